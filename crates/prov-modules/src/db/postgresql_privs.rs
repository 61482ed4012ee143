//! `postgresql_privs` (community.postgresql): grants and revokes privileges on database
//! objects, role memberships and default privileges, through `psql` on the target.
//!
//! Arguments (as in Ansible): `login_db` (aliases `db`, `database`; required), `privs` (alias
//! `priv`: `SELECT,INSERT`, `ALL`, ...), `type` (`table` by default, `sequence`, `function`,
//! `procedure`, `database`, `schema`, `language`, `tablespace`, `group`, `default_privs`,
//! `foreign_data_wrapper`, `foreign_server`, `type`, `parameter`), `objs` (alias `obj`: names,
//! `ALL_IN_SCHEMA`, `ALL_DEFAULT`; function signatures with `:` between arguments), `schema`,
//! `roles` (alias `role`), `target_roles`, `grant_option` (alias `admin_option`),
//! `fail_on_role`, `session_role`, `state` (`present`, `absent`).
//!
//! It decides as community.postgresql does: the access lists (or memberships) of the objects
//! are read, the `GRANT`/`REVOKE` runs, they are read again, all in one transaction; it changed
//! when they differ, and in check mode the transaction is rolled back. Registers `queries`.
//! Where community.postgresql joins several privileges or default-privilege kinds in a
//! per-run order (a Python set's), prov joins them in alphabetical order.
//!
//! Connection arguments, as community.postgresql's: `login_user` (default `$PGUSER`, else
//! `postgres`), `login_password` (given to `psql` on its standard input), `login_host`,
//! `login_unix_socket` (for an empty host or `localhost`), `login_port`, `ssl_mode`, `ca_cert`,
//! `ssl_cert`, `ssl_key`, `connect_params`.
//!
//! ```yaml
//! - community.postgresql.postgresql_privs:
//!     login_db: acme
//!     type: database
//!     privs: ALL
//!     roles: app
//! ```

use super::{ident, literal, pg_args, rows};
use crate::util::or_fail;
use async_trait::async_trait;
use prov_core::module::{Action, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde_json::Value as Json;

fn table() -> String {
    "table".into()
}

pg_args! {
    /// Arguments of `postgresql_privs`.
    pub struct Args {
        /// The database.
        #[serde(alias = "db", alias = "database")]
        pub login_db: String,
        /// `present` (grant) or `absent` (revoke).
        #[serde(default = "crate::db::present")]
        pub state: String,
        /// Privileges, comma-separated.
        #[serde(default, alias = "priv")]
        pub privs: Option<String>,
        /// The kind of object.
        #[serde(default = "table", rename = "type")]
        pub kind: String,
        /// The objects, comma-separated.
        #[serde(default, alias = "obj")]
        pub objs: Option<String>,
        /// Their schema.
        #[serde(default)]
        pub schema: Option<String>,
        /// The roles that get or lose them, comma-separated.
        #[serde(alias = "role")]
        pub roles: String,
        /// Fail on a role that does not exist.
        #[serde(default = "crate::db::yes", deserialize_with = "prov_core::args::lenient_bool")]
        pub fail_on_role: bool,
        /// Whose default privileges (`default_privs`).
        #[serde(default)]
        pub target_roles: Option<String>,
        /// Grant (or revoke) the grant or admin option.
        #[serde(default, alias = "admin_option", deserialize_with = "prov_core::args::lenient_opt_bool")]
        pub grant_option: Option<bool>,
    }
}

/// The `postgresql_privs` module.
#[derive(Debug, Default)]
pub struct PostgresqlPrivs;

const TYPES: &[&str] = &[
    "table",
    "sequence",
    "function",
    "procedure",
    "database",
    "schema",
    "language",
    "tablespace",
    "group",
    "default_privs",
    "foreign_data_wrapper",
    "foreign_server",
    "type",
    "parameter",
];

const VALID_PRIVS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
    "CREATE",
    "CONNECT",
    "TEMPORARY",
    "TEMP",
    "EXECUTE",
    "USAGE",
    "ALL",
    "SET",
    "ALTER_SYSTEM",
    "MAINTAIN",
];

/// The privileges each kind of default privileges takes.
fn default_objs(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "TABLES" => &["ALL", "SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"],
        "SEQUENCES" => &["ALL", "SELECT", "UPDATE", "USAGE"],
        "FUNCTIONS" => &["ALL", "EXECUTE"],
        "TYPES" => &["ALL", "USAGE"],
        "SCHEMAS" => &["CREATE", "USAGE"],
        _ => return None,
    })
}

/// Python's `repr` of a set of text (`{'A', 'B'}`), for community.postgresql's messages.
fn py_set(items: &[String]) -> String {
    format!("frozenset({{{}}})", items.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(", "))
}

/// A text array literal (`ARRAY['a','b']::text[]`).
fn text_array(items: &[String]) -> String {
    format!("ARRAY[{}]::text[]", items.iter().map(|i| literal(i)).collect::<Vec<_>>().join(","))
}

/// The query whose rows are the access lists (or memberships) community.postgresql compares.
fn status_sql(kind: &str, schema: Option<&str>, objs: &[String]) -> String {
    let names = text_array(objs);
    let by_schema = |acl: &str, rel: &str, cond: &str, order: &str| {
        match schema {
        Some(s) => format!(
            "SELECT {acl}::text FROM pg_catalog.{rel} JOIN pg_catalog.pg_namespace n ON n.oid = {cond} WHERE n.nspname = {} AND {order}",
            literal(s)
        ),
        None => format!("SELECT {acl}::text FROM pg_catalog.{rel} WHERE {order}"),
    }
    };
    let inner = match kind {
        "table" => by_schema(
            "relacl",
            "pg_class c",
            "c.relnamespace",
            &format!("relkind in ('r','p','v','m','f') AND relname = ANY ({names}) ORDER BY relname"),
        ),
        "sequence" => by_schema(
            "relacl",
            "pg_class c",
            "c.relnamespace",
            &format!("relkind = 'S' AND relname = ANY ({names}) ORDER BY relname"),
        ),
        "function" | "procedure" => {
            let funcs: Vec<String> = objs.iter().map(|f| f.split('(').next().unwrap_or_default().to_string()).collect();
            by_schema(
                "proacl",
                "pg_proc p",
                "p.pronamespace",
                &format!("proname = ANY ({}) ORDER BY proname, proargtypes", text_array(&funcs)),
            )
        }
        "type" => by_schema(
            "typacl",
            "pg_type t",
            "t.typnamespace",
            &format!("typname = ANY ({names}) ORDER BY typname"),
        ),
        "schema" => format!("SELECT nspacl::text FROM pg_catalog.pg_namespace WHERE nspname = ANY ({names}) ORDER BY nspname"),
        "language" => format!("SELECT lanacl::text FROM pg_catalog.pg_language WHERE lanname = ANY ({names}) ORDER BY lanname"),
        "tablespace" => {
            format!("SELECT spcacl::text FROM pg_catalog.pg_tablespace WHERE spcname = ANY ({names}) ORDER BY spcname")
        }
        "database" => format!("SELECT datacl::text FROM pg_catalog.pg_database WHERE datname = ANY ({names}) ORDER BY datname"),
        "foreign_data_wrapper" => {
            format!("SELECT fdwacl::text FROM pg_catalog.pg_foreign_data_wrapper WHERE fdwname = ANY ({names}) ORDER BY fdwname")
        }
        "foreign_server" => {
            format!("SELECT srvacl::text FROM pg_catalog.pg_foreign_server WHERE srvname = ANY ({names}) ORDER BY srvname")
        }
        "parameter" => {
            format!("SELECT paracl::text FROM pg_catalog.pg_parameter_acl WHERE parname = ANY ({names}) ORDER BY parname")
        }
        "group" => format!(
            "SELECT json_build_object('roleid', roleid, 'grantor', grantor, 'member', member, 'admin_option', admin_option)::text \
             FROM pg_catalog.pg_auth_members am JOIN pg_catalog.pg_roles r ON r.oid = am.roleid \
             WHERE r.rolname = ANY ({names}) ORDER BY roleid, grantor, member"
        ),
        _ => match schema {
            Some(s) => format!(
                "SELECT defaclacl::text FROM pg_default_acl a JOIN pg_namespace b ON a.defaclnamespace = b.oid WHERE b.nspname = {}",
                literal(s)
            ),
            None => "SELECT defaclacl::text FROM pg_default_acl".into(),
        },
    };
    format!("SELECT json_build_object('status', (SELECT coalesce(json_agg(x), '[]'::json) FROM ({inner}) t(x)))")
}

/// `QueryBuilder`: the statements of a grant or revoke.
struct Query<'a> {
    state: &'a str,
    kind: &'a str,
    grant_option: Option<bool>,
    whom: String,
    as_who: Option<String>,
    schema: String,
    what: String,
    objs: &'a [String],
}

impl Query<'_> {
    fn build(&self) -> String {
        let mut q: Vec<String> = Vec::new();
        let revoke_default = |q: &mut Vec<String>, obj: &str| match &self.as_who {
            Some(who) => q.push(format!(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {who}{} REVOKE ALL ON {obj} FROM {};",
                self.schema, self.whom
            )),
            None => q.push(format!("ALTER DEFAULT PRIVILEGES{} REVOKE ALL ON {obj} FROM {};", self.schema, self.whom)),
        };
        let add_grant_option = |q: &mut Vec<String>| {
            let last = q.len() - 1;
            match self.grant_option {
                Some(true) => {
                    q[last].push_str(if self.kind == "group" { " WITH ADMIN OPTION;" } else { " WITH GRANT OPTION;" })
                }
                Some(false) => {
                    q[last].push(';');
                    if self.kind == "group" {
                        q.push(format!("REVOKE ADMIN OPTION FOR {} FROM {};", self.what, self.whom));
                    } else if self.kind != "default_privs" {
                        q.push(format!("REVOKE GRANT OPTION FOR {} FROM {};", self.what, self.whom));
                    }
                }
                None => q[last].push(';'),
            }
        };
        if self.state == "present" {
            if self.kind == "default_privs" {
                for obj in self.objs {
                    revoke_default(&mut q, obj);
                }
                for obj in self.objs {
                    match &self.as_who {
                        Some(who) => q.push(format!(
                            "ALTER DEFAULT PRIVILEGES FOR ROLE {who}{} GRANT {} ON {obj} TO {}",
                            self.schema, self.what, self.whom
                        )),
                        None => q.push(format!(
                            "ALTER DEFAULT PRIVILEGES{} GRANT {} ON {obj} TO {}",
                            self.schema, self.what, self.whom
                        )),
                    }
                    add_grant_option(&mut q);
                }
            } else {
                q.push(format!("GRANT {} TO {}", self.what, self.whom));
                add_grant_option(&mut q);
            }
        } else if self.kind == "default_privs" {
            for obj in ["TABLES", "FUNCTIONS", "SEQUENCES", "TYPES"] {
                revoke_default(&mut q, obj);
            }
        } else {
            q.push(format!("REVOKE {} FROM {};", self.what, self.whom));
        }
        q.join("\n")
    }
}

impl PostgresqlPrivs {
    async fn run(&self, a: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Outcome, ModuleError> {
        let kind = a.kind.as_str();
        let mut schema = a.schema.clone();
        if ["table", "sequence", "function", "procedure", "type", "default_privs"].contains(&kind) {
            if a.objs.as_deref() == Some("schemas") || schema.as_deref() == Some("not-specified") {
                schema = None;
            } else {
                schema = Some(schema.filter(|s| !s.is_empty()).unwrap_or_else(|| "public".into()));
            }
        }
        let objs_arg = if kind == "database" {
            a.objs.clone().filter(|o| !o.is_empty()).unwrap_or_else(|| a.login_db.clone())
        } else {
            a.objs.clone().unwrap_or_default()
        };
        let conn = a.conn(Some(&a.login_db));
        let read = |sql: String| {
            let conn = conn.clone();
            async move { rows(cx, &conn, &sql).await }
        };
        let version = or_fail!(super::server_version(cx, &conn).await);
        // Privileges.
        let privs: Option<Vec<String>> = a.privs.as_ref().filter(|p| !p.is_empty()).map(|p| {
            let mut v: Vec<String> = p.split(',').map(|x| x.to_uppercase()).collect();
            v.sort();
            v.dedup();
            v
        });
        if let Some(p) = &privs {
            let bad: Vec<String> = p.iter().filter(|x| !VALID_PRIVS.contains(&x.as_str())).cloned().collect();
            if !bad.is_empty() {
                return Ok(Outcome::failed(format!("Invalid privileges specified: {}", py_set(&bad))));
            }
        }
        // Objects.
        let mut orig_objs: Option<&str> = None;
        let objs: Vec<String> = if objs_arg == "ALL_IN_SCHEMA" {
            if let Some(s) = &schema {
                let found = or_fail!(
                    read(format!("SELECT count(*) FROM pg_catalog.pg_namespace WHERE nspname = {}", literal(s))).await
                );
                if found.first().and_then(|c| c.as_i64()) == Some(0) {
                    return Ok(Outcome::failed(format!("Schema \"{s}\" does not exist.")));
                }
            }
            if kind == "procedure" && version < 110000 {
                return Ok(Outcome::failed("PostgreSQL version must be >= 11 for type=procedure. Exit"));
            }
            let in_schema = |cond: &str| match &schema {
                Some(s) => format!("{cond} AND n.nspname = {}", literal(s)),
                None => cond.to_string(),
            };
            let sql = match kind {
                "table" => format!(
                    "SELECT to_json(relname) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE {}",
                    in_schema("relkind in ('r', 'v', 'm', 'p', 'f')")
                ),
                "sequence" => format!(
                    "SELECT to_json(relname) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE {}",
                    in_schema("relkind = 'S'")
                ),
                _ => format!(
                    "SELECT to_json(p.proname || '(' || oidvectortypes(p.proargtypes) || ')') FROM pg_catalog.pg_proc p \
                     JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {}",
                    in_schema(if kind == "procedure" { "p.prokind = 'p'" } else { "p.prokind = 'f'" })
                ),
            };
            orig_objs = Some(match kind {
                "table" => "ALL TABLES IN SCHEMA",
                "sequence" => "ALL SEQUENCES IN SCHEMA",
                "function" => "ALL FUNCTIONS IN SCHEMA",
                _ => "ALL PROCEDURES IN SCHEMA",
            });
            or_fail!(read(sql).await).iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        } else if kind == "default_privs" {
            let mut objs: Vec<String> = if objs_arg == "ALL_DEFAULT" {
                vec!["FUNCTIONS".into(), "SEQUENCES".into(), "TABLES".into(), "TYPES".into()]
            } else {
                objs_arg.split(',').map(|o| o.to_uppercase()).collect()
            };
            objs.sort();
            objs.dedup();
            let bad: Vec<String> = objs.iter().filter(|o| default_objs(o).is_none()).cloned().collect();
            if !bad.is_empty() {
                return Ok(Outcome::failed(format!("Invalid Object set specified: {}", py_set(&bad))));
            }
            let p = privs.clone().unwrap_or_default();
            let valid: Vec<String> = objs
                .iter()
                .filter(|o| p.iter().all(|x| default_objs(o).is_some_and(|ok| ok.contains(&x.as_str()))))
                .cloned()
                .collect();
            if valid != objs {
                return Ok(Outcome::failed(format!(
                    "Invalid priv specified. Valid object for priv: {}. Objects: {}",
                    py_set(&valid),
                    py_set(&objs)
                )));
            }
            objs
        } else {
            let objs: Vec<String> = objs_arg.split(',').map(str::to_string).collect();
            if kind == "function" || kind == "procedure" {
                objs.into_iter().map(|o| o.replace(':', ",")).collect()
            } else {
                objs
            }
        };
        // Roles.
        let implicit: Vec<&str> =
            [("PUBLIC", 0), ("CURRENT_USER", 95000), ("SESSION_USER", 95000), ("CURRENT_ROLE", 140000)]
                .iter()
                .filter(|(_, v)| version >= *v)
                .map(|(r, _)| *r)
                .collect();
        let mut o = Outcome::ok();
        let mut roles: Vec<String> = Vec::new();
        for r in a.roles.split(',') {
            if implicit.contains(&r.to_uppercase().as_str()) {
                roles.push(r.to_uppercase());
                continue;
            }
            let found =
                or_fail!(read(format!("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {}", literal(r))).await);
            if !found.is_empty() {
                roles.push(ident(r));
            } else if a.fail_on_role {
                return Ok(Outcome::failed(format!("Role '{r}' does not exist")));
            } else {
                o = o.warn(format!("Role '{r}' does not exist, pass it"));
            }
        }
        if roles.is_empty() {
            o = o.warn("No valid roles provided, nothing to do");
            return Ok(o.with("queries", crate::containers::json_value(Json::from(Vec::<String>::new()))));
        }
        if a.target_roles.is_some() && kind != "default_privs" {
            o = o.warn("\"target_roles\" will be ignored Argument \"type: default_privs\" is required for usage of \"target_roles\".");
        }
        if objs.is_empty() {
            return Ok(o.with("queries", crate::containers::json_value(Json::from(Vec::<String>::new()))));
        }
        let quoted_schema = schema.as_ref().map(|s| ident(s));
        let obj_ids: Vec<String> = match kind {
            "function" | "procedure" => {
                let mut ids = Vec::new();
                for obj in &objs {
                    let Some((f, args)) = obj.split_once('(') else {
                        return Ok(Outcome::failed(format!("Illegal function / procedure signature: \"{obj}\".")));
                    };
                    ids.push(format!("{}.{}({args}", quoted_schema.clone().unwrap_or_else(|| "None".into()), ident(f)));
                }
                ids
            }
            "table" | "sequence" | "type" => objs
                .iter()
                .map(|o| format!("{}.{}", quoted_schema.clone().unwrap_or_else(|| "None".into()), ident(o)))
                .collect(),
            _ => objs.iter().map(|o| ident(o)).collect(),
        };
        let p = privs.clone().unwrap_or_default();
        let what = match kind {
            "group" => obj_ids.join(","),
            "default_privs" => p.join(","),
            _ => match orig_objs {
                Some(all) => format!(
                    "{} ON {all} {}",
                    p.join(",").replace('_', " "),
                    quoted_schema.clone().unwrap_or_else(|| "None".into())
                ),
                None => {
                    format!("{} ON {} {}", p.join(",").replace('_', " "), kind.replace('_', " "), obj_ids.join(","))
                }
            },
        };
        let as_who = a
            .target_roles
            .as_ref()
            .filter(|t| !t.is_empty())
            .map(|t| t.split(',').map(ident).collect::<Vec<_>>().join(","));
        let query = Query {
            state: &a.state,
            kind,
            grant_option: a.grant_option,
            whom: roles.join(","),
            as_who,
            schema: quoted_schema.as_ref().map(|s| format!(" IN SCHEMA {s}")).unwrap_or_default(),
            what,
            objs: &objs,
        }
        .build();
        let status = status_sql(kind, schema.as_deref(), &objs);
        let end = if check { "ROLLBACK;" } else { "COMMIT;" };
        let sql = format!("BEGIN;\n{status};\n{query}\n{status};\n{end}");
        let lines = or_fail!(super::execute(cx, &conn, &sql, &format!("Cannot execute SQL '{query}': ")).await);
        let mut states: Vec<Vec<String>> = lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Json>(l).ok())
            .filter_map(|v| v.get("status").and_then(|s| s.as_array()).cloned())
            .map(|l| {
                let mut v: Vec<String> = l.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect();
                v.sort();
                v
            })
            .collect();
        let after = states.pop().unwrap_or_default();
        let before = states.pop().unwrap_or_default();
        o.changed = before != after;
        Ok(o.with("queries", crate::containers::json_value(Json::from(vec![query]))))
    }
}

#[async_trait]
impl Module for PostgresqlPrivs {
    const NAME: &'static str = "postgresql_privs";
    const COLLECTIONS: &'static [&'static str] = &["community.postgresql"];
    type Args = Args;
    type Plan = ();

    fn check_args(a: &Args) -> Result<(), String> {
        super::check_common(
            &a.state,
            &["present", "absent"],
            &a.ssl_mode,
            a.login_password.as_deref(),
            &a.connect_params,
        )?;
        if !TYPES.contains(&a.kind.as_str()) {
            return Err(format!("value of type must be one of: {}, got: {}", TYPES.join(", "), a.kind));
        }
        let kind = a.kind.as_str();
        let schema_kinds = ["table", "sequence", "function", "procedure", "type", "default_privs"];
        if !schema_kinds.contains(&kind) && a.schema.as_ref().is_some_and(|s| !s.is_empty()) {
            return Err(format!("Argument \"schema\" is not allowed for type \"{kind}\"."));
        }
        if a.objs.as_deref() == Some("ALL_IN_SCHEMA") && !["table", "sequence", "function", "procedure"].contains(&kind)
        {
            return Err(format!(
                "Argument \"objs\": ALL_IN_SCHEMA can be used only for type: table, sequence, function or procedure, {kind} was passed."
            ));
        }
        if kind != "database" && a.objs.as_deref().is_none_or(str::is_empty) {
            return Err(format!("Argument \"objs\" is required for type \"{kind}\"."));
        }
        if kind == "function" || kind == "procedure" {
            for obj in a.objs.as_deref().unwrap_or_default().split(',') {
                let args = obj.split_once('(').map(|x| x.1).unwrap_or_default();
                let safe = args.chars().all(|c| c.is_ascii_alphanumeric() || " _:.,[]()\"".contains(c));
                if !safe || args.contains("--") {
                    return Err(format!(
                        "objs: the argument types of `{obj}` are SQL as written; prov takes only type names there"
                    ));
                }
            }
        }
        let has_privs = a.privs.as_deref().is_some_and(|p| !p.is_empty());
        if kind == "group" && has_privs {
            return Err("Argument \"privs\" is not allowed for type \"group\".".into());
        } else if kind != "group" && !has_privs {
            return Err(format!("Argument \"privs\" is required for type \"{kind}\"."));
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let action = if a.state == "absent" { Action::Delete } else { Action::Create };
        crate::util::decide_while_acting(cx, action, "postgresql privileges", a.roles.clone(), self.run(a, cx, true))
            .await
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.run(a, cx, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_built_as_community_postgresql_builds_them() {
        let objs = vec!["books".to_string()];
        let q = Query {
            state: "present",
            kind: "table",
            grant_option: Some(false),
            whom: "\"reader\"".into(),
            as_who: None,
            schema: " IN SCHEMA \"public\"".into(),
            what: "INSERT ON table \"public\".\"books\"".into(),
            objs: &objs,
        };
        assert_eq!(
            q.build(),
            "GRANT INSERT ON table \"public\".\"books\" TO \"reader\";\nREVOKE GRANT OPTION FOR INSERT ON table \"public\".\"books\" FROM \"reader\";"
        );
        assert_eq!(py_set(&["BOGUS".into()]), "frozenset({'BOGUS'})");
    }

    /// Values that community.postgresql writes into SQL unquoted are refused unless they are
    /// names or numbers.
    #[test]
    fn sql_written_from_arguments_is_refused() {
        let args = |v: serde_json::Value| serde_json::from_value::<Args>(v).expect("args");
        let base = serde_json::json!({"login_db": "d", "type": "function", "privs": "EXECUTE", "roles": "r"});
        let mut bad = base.clone();
        bad["objs"] = "f(int); DROP TABLE t; --)".into();
        assert!(PostgresqlPrivs::check_args(&args(bad)).is_err());
        let mut good = base;
        good["objs"] = "f(int:character varying)".into();
        assert!(PostgresqlPrivs::check_args(&args(good)).is_ok());
    }
}
