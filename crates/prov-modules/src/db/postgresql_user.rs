//! `postgresql_user` (community.postgresql): creates, changes and drops a PostgreSQL role,
//! through `psql` on the target.
//!
//! Arguments (as in Ansible): `name` (alias `user`), `password` (`""`: none; an `md5...` or
//! `SCRAM-SHA-256$...` hash is stored as given), `encrypted` (default true), `role_attr_flags`
//! (`CREATEDB,NOSUPERUSER,...`), `expires`, `conn_limit`, `no_password_changes`, `comment`,
//! `configuration` with `reset_unspecified_configuration` and `quote_configuration_values`,
//! `fail_on_user` (alias `fail_on_role`), `login_db` (alias `db`), `session_role`, `state`
//! (`present`, `absent`).
//!
//! It decides as community.postgresql does: a password is compared with the stored one (a
//! SCRAM verifier is checked with the password, an MD5 hash recomputed), the flags, expiry and
//! connection limit with the role's, and one `ALTER USER` makes what differs; the statements
//! run in one transaction, rolled back in check mode. The password travels on `psql`'s
//! standard input and is never shown: `queries` lists statements with `%(password)s` where it
//! goes, as community.postgresql does. Registers `user`, `queries`, and `user_removed` for
//! `absent`.
//!
//! Connection arguments, as community.postgresql's: `login_user` (default `$PGUSER`, else
//! `postgres`), `login_password` (given to `psql` on its standard input), `login_host`,
//! `login_unix_socket` (for an empty host or `localhost`), `login_port`, `ssl_mode`, `ca_cert`,
//! `ssl_cert`, `ssl_key`, `connect_params`.
//!
//! ```yaml
//! - community.postgresql.postgresql_user:
//!     name: app
//!     password: "{{ app_db_password }}"
//!     role_attr_flags: CREATEDB,NOSUPERUSER
//!   become: true
//!   become_user: postgres
//! ```

use super::{ident, literal, pg_args, psql, rows, Answer};
use crate::util::or_fail;
use async_trait::async_trait;
use base64::Engine as _;
use prov_core::module::{Action, Module, ModuleCtx, ModuleError, Outcome, Plan};
use serde_json::{Map, Value as Json};

pg_args! {
    /// Arguments of `postgresql_user`.
    pub struct Args {
        /// The role.
        #[serde(alias = "user")]
        pub name: String,
        /// Its password.
        #[serde(default)]
        pub password: Option<String>,
        /// `present` or `absent`.
        #[serde(default = "crate::db::present")]
        pub state: String,
        /// The database to connect to.
        #[serde(default, alias = "db")]
        pub login_db: String,
        /// Fail when the role cannot be dropped.
        #[serde(default = "crate::db::yes", alias = "fail_on_role", deserialize_with = "prov_core::args::lenient_bool")]
        pub fail_on_user: bool,
        /// Role attributes (`CREATEDB,NOSUPERUSER`).
        #[serde(default)]
        pub role_attr_flags: String,
        /// Store the password hashed.
        #[serde(default = "crate::db::yes", deserialize_with = "prov_core::args::lenient_bool")]
        pub encrypted: bool,
        /// When the password stops working.
        #[serde(default)]
        pub expires: Option<String>,
        /// Leave the password and expiry alone.
        #[serde(default, deserialize_with = "prov_core::args::lenient_bool")]
        pub no_password_changes: bool,
        /// The connection limit.
        #[serde(default)]
        pub conn_limit: Option<i64>,
        /// Its comment (`""` removes it).
        #[serde(default)]
        pub comment: Option<String>,
        /// Settings of the role (`ALTER ROLE ... SET`).
        #[serde(default)]
        pub configuration: Map<String, Json>,
        /// Reset the settings `configuration` does not list.
        #[serde(default, deserialize_with = "prov_core::args::lenient_bool")]
        pub reset_unspecified_configuration: bool,
        /// Quote the settings' values.
        #[serde(default = "crate::db::yes", deserialize_with = "prov_core::args::lenient_bool")]
        pub quote_configuration_values: bool,
    }
}

/// The `postgresql_user` module.
#[derive(Debug, Default)]
pub struct PostgresqlUser;

const FLAGS: &[&str] = &["SUPERUSER", "CREATEROLE", "CREATEDB", "INHERIT", "LOGIN", "REPLICATION"];

fn column(flag: &str) -> &'static str {
    match flag {
        "SUPERUSER" => "rolsuper",
        "CREATEROLE" => "rolcreaterole",
        "CREATEDB" => "rolcreatedb",
        "INHERIT" => "rolinherit",
        "LOGIN" => "rolcanlogin",
        "REPLICATION" => "rolreplication",
        _ => "rolbypassrls",
    }
}

/// `parse_role_attrs`: the flags upper-cased, checked, joined by spaces (in a fixed order;
/// community.postgresql's follows Python's set order, which varies from run to run).
fn parse_flags(flags: &str, server_version: i64) -> Result<String, String> {
    let mut valid: Vec<String> = FLAGS.iter().map(|f| f.to_string()).collect();
    if server_version >= 90500 {
        valid.push("BYPASSRLS".into());
    }
    let all: Vec<String> = valid.iter().cloned().chain(valid.iter().map(|f| format!("NO{f}"))).collect();
    let mut given: Vec<String> = flags.split(',').filter(|f| !f.is_empty()).map(|f| f.to_uppercase()).collect();
    given.sort();
    given.dedup();
    let bad: Vec<&String> = given.iter().filter(|f| !all.contains(f)).collect();
    if !bad.is_empty() {
        return Err(format!(
            "Invalid role_attr_flags specified: {}",
            bad.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
        ));
    }
    Ok(given.join(" "))
}

/// Whether `password` is what the SCRAM-SHA-256 verifier `stored` was made from (RFC 5802:
/// the server key of the salted password); `None` when `stored` is no such verifier.
fn scram_matches(stored: &str, password: &str) -> Option<bool> {
    use hmac::{KeyInit, Mac};
    let re =
        regex::Regex::new(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$").ok()?;
    let c = re.captures(stored)?;
    let rounds: u32 = c[1].parse().ok()?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let salt = b64.decode(&c[2]).ok()?;
    let server_key = b64.decode(&c[4]).ok()?;
    let prepared = stringprep::saslprep(password).ok()?;
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2_11::Sha256>(prepared.as_bytes(), &salt, rounds, &mut salted);
    let mut mac = <hmac::Hmac<sha2_11::Sha256> as KeyInit>::new_from_slice(&salted).ok()?;
    mac.update(b"Server Key");
    Some(mac.finalize().into_bytes().as_slice() == server_key.as_slice())
}

fn is_md5_hash(p: &str) -> bool {
    p.starts_with("md5") && p.len() == 35
}

fn is_scram_hash(p: &str) -> bool {
    regex::Regex::new(r"^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$")
        .is_ok_and(|r| r.is_match(p))
}

/// `q` with `%(password)s` and `%(expires)s` replaced by their literals, in one pass (a value
/// holding the other's placeholder stays inside its own literal).
fn fill_params(q: &str, password: Option<&str>, expires: Option<&str>) -> String {
    let mut out = String::new();
    let mut rest = q;
    loop {
        let next = [("%(password)s", password), ("%(expires)s", expires)]
            .into_iter()
            .filter_map(|(p, v)| rest.find(p).map(|i| (i, p, v)))
            .min_by_key(|(i, _, _)| *i);
        let Some((i, p, v)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i]);
        out.push_str(&literal(v.unwrap_or_default()));
        rest = &rest[i + p.len()..];
    }
}

/// The role's catalog row (`pg_authid`), with whether `expires` differs from its expiry and the
/// server's `password_encryption`.
struct Role {
    row: Map<String, Json>,
    expires_differs: bool,
    encryption: String,
    /// Read from `pg_roles`: the stored password is not known.
    hidden: bool,
}

impl PostgresqlUser {
    async fn read(a: &Args, cx: &ModuleCtx<'_>, sql: &str) -> Result<Result<Vec<Json>, Outcome>, ModuleError> {
        rows(cx, &a.conn(Some(&a.login_db)), sql).await
    }

    async fn role(a: &Args, cx: &ModuleCtx<'_>) -> Result<Result<Option<Role>, Outcome>, ModuleError> {
        let expires = match &a.expires {
            Some(e) => format!("({}::timestamptz IS DISTINCT FROM a.rolvaliduntil)", literal(e)),
            None => "false".into(),
        };
        // pg_authid, which only a superuser may read; else pg_roles, whose password is hidden
        // (community.postgresql then counts the password as changed).
        let mut hidden = false;
        let mut found = Vec::new();
        for table in ["pg_authid", "pg_roles"] {
            let sql = format!(
                "SELECT json_build_object('row', to_jsonb(a), 'expires_differs', {expires}, 'encryption', current_setting('password_encryption')) \
                 FROM {table} a WHERE a.rolname = {}",
                literal(&a.name)
            );
            match Self::read(a, cx, &sql).await? {
                Ok(rows) => {
                    found = rows;
                    break;
                }
                Err(o) if table == "pg_authid" && o.msg.as_deref().is_some_and(|m| m.contains("permission denied")) => {
                    hidden = true;
                }
                Err(o) => return Ok(Err(o)),
            }
        }
        Ok(Ok(found.into_iter().next().map(|v| Role {
            row: v.get("row").and_then(|r| r.as_object()).cloned().unwrap_or_default(),
            expires_differs: v.get("expires_differs").and_then(|e| e.as_bool()).unwrap_or(false),
            encryption: v.get("encryption").and_then(|e| e.as_str()).unwrap_or_default().to_string(),
            hidden,
        })))
    }

    /// `user_should_we_change_password`.
    fn password_changes(a: &Args, r: &Role) -> bool {
        let Some(password) = &a.password else { return false };
        if r.hidden {
            return true;
        }
        let current = r.row.get("rolpassword").and_then(|p| p.as_str());
        if password.is_empty() {
            return current.is_some();
        }
        if is_scram_hash(password) {
            return Some(password.as_str()) != current;
        }
        if let Some(c) = current.filter(|c| is_scram_hash(c)) {
            return scram_matches(c, password) != Some(true);
        }
        if is_md5_hash(password) || !a.encrypted {
            return Some(password.as_str()) != current;
        }
        match r.encryption.as_str() {
            "md5" => {
                let hashed = format!("md5{:x}", md5::compute(format!("{password}{}", a.name)));
                Some(hashed.as_str()) != current
            }
            "scram-sha-256" => true,
            _ => false,
        }
    }

    fn flags_change(flags: &str, r: &Role) -> bool {
        flags.split(' ').filter(|f| !f.is_empty()).any(|f| {
            let (name, want) = match f.strip_prefix("NO") {
                Some(n) => (n, false),
                None => (f, true),
            };
            r.row.get(column(name)).and_then(|v| v.as_bool()) != Some(want)
        })
    }

    async fn run(&self, a: &Args, cx: &ModuleCtx<'_>, check: bool) -> Result<Outcome, ModuleError> {
        if a.quote_configuration_values && a.configuration.keys().any(|k| k.contains('"') || k.contains('\'')) {
            return Ok(Outcome::failed("The key of a configuration may not contain single or double quotes"));
        }
        let version = or_fail!(super::server_version(cx, &a.conn(Some(&a.login_db))).await);
        let flags = match parse_flags(&a.role_attr_flags, version) {
            Ok(f) => f,
            Err(m) => return Ok(Outcome::failed(m)),
        };
        let user = ident(&a.name);
        let crypt = if a.encrypted { "ENCRYPTED" } else { "UNENCRYPTED" };
        let exists = a.name == "PUBLIC"
            || !or_fail!(
                Self::read(a, cx, &format!("SELECT 1 FROM pg_roles WHERE rolname = {}", literal(&a.name))).await
            )
            .is_empty();
        let mut o = Outcome::ok().with("user", a.name.clone());
        // Statements as shown (`queries`) and as sent (with the values in place).
        let mut shown: Vec<String> = Vec::new();
        let mut sent: Vec<String> = Vec::new();
        let fill = |q: &str| fill_params(q, a.password.as_deref(), a.expires.as_deref());
        let mut changed = false;
        if a.state == "absent" {
            if exists {
                if check {
                    changed = true;
                    o = o.with("user_removed", true);
                } else {
                    let q = format!("DROP USER {user}");
                    shown.push(q.clone());
                    match psql(cx, &a.conn(Some(&a.login_db)), &format!("{q};")).await? {
                        Answer::Rows(_) => changed = true,
                        Answer::NoConnection(m) => return Ok(super::no_connection(&m)),
                        Answer::NoRole(m) => return Ok(super::no_role(&m)),
                        Answer::Failed(m) => {
                            if a.fail_on_user {
                                return Ok(Outcome::failed(format!("Unable to remove user: {m}")));
                            }
                        }
                    }
                    o = o.with("user_removed", changed);
                }
            }
            o.changed = changed;
            return Ok(o.with("queries", crate::containers::json_value(Json::from(shown))));
        }
        let mut current_comment = String::new();
        let mut current_config: Map<String, Json> = Map::new();
        if exists {
            if a.name == "PUBLIC" {
                if a.password.is_some() {
                    return Ok(Outcome::failed("cannot change the password for PUBLIC user"));
                } else if !flags.is_empty() {
                    return Ok(Outcome::failed("cannot change the role_attr_flags for PUBLIC user"));
                }
            } else if !a.no_password_changes
                && (a.password.is_some() || !flags.is_empty() || a.expires.is_some() || a.conn_limit.is_some())
            {
                let Some(r) = or_fail!(Self::role(a, cx).await) else {
                    return Ok(Outcome::failed(format!("Failed to get role details for current user {}", a.name)));
                };
                let pw = Self::password_changes(a, &r);
                let fl = Self::flags_change(&flags, &r);
                let ex = a.expires.is_some() && r.expires_differs;
                let cl = a.conn_limit.is_some_and(|c| r.row.get("rolconnlimit").and_then(|x| x.as_i64()) != Some(c));
                if pw || fl || ex || cl {
                    let mut alter = vec![format!("ALTER USER {user}")];
                    if pw {
                        if a.password.as_deref() != Some("") {
                            alter.push(format!("WITH {crypt}"));
                            alter.push("PASSWORD %(password)s".into());
                        } else {
                            alter.push("WITH PASSWORD NULL".into());
                        }
                        alter.push(flags.clone());
                    } else if !flags.is_empty() {
                        alter.push(format!("WITH {flags}"));
                    }
                    if a.expires.is_some() {
                        alter.push("VALID UNTIL %(expires)s".into());
                    }
                    if let Some(c) = a.conn_limit {
                        alter.push(format!("CONNECTION LIMIT {c}"));
                    }
                    let q = alter.join(" ");
                    sent.push(fill(&q));
                    shown.push(q);
                    changed = true;
                }
            } else if a.no_password_changes && !flags.is_empty() {
                if let Some(r) = or_fail!(Self::role(a, cx).await) {
                    if Self::flags_change(&flags, &r) {
                        let q = format!("ALTER USER {user} WITH {flags}");
                        sent.push(q.clone());
                        shown.push(q);
                        changed = true;
                    }
                }
            }
            let extra = or_fail!(
                Self::read(
                    a,
                    cx,
                    &format!(
                        "SELECT json_build_object('comment', pg_catalog.shobj_description(r.oid, 'pg_authid'), 'config', r.rolconfig) \
                         FROM pg_catalog.pg_roles r WHERE r.rolname = {}",
                        literal(&a.name)
                    )
                )
                .await
            );
            if let Some(e) = extra.first() {
                current_comment = e.get("comment").and_then(|c| c.as_str()).unwrap_or_default().to_string();
                for item in e.get("config").and_then(|c| c.as_array()).into_iter().flatten() {
                    let Some((k, v)) = item.as_str().and_then(|s| s.split_once('=')) else {
                        return Ok(Outcome::failed(
                            "Expecting a list of strings where each string has the format 'key=value'.",
                        ));
                    };
                    current_config.insert(k.into(), Json::from(v));
                }
            }
        } else {
            let mut q = vec![format!("CREATE USER {user}")];
            if a.password.as_deref().is_some_and(|p| !p.is_empty()) {
                q.push(format!("WITH {crypt}"));
                q.push("PASSWORD %(password)s".into());
            }
            if a.expires.is_some() {
                q.push("VALID UNTIL %(expires)s".into());
            }
            if let Some(c) = a.conn_limit {
                q.push(format!("CONNECTION LIMIT {c}"));
            }
            q.push(flags.clone());
            let q = q.join(" ");
            sent.push(fill(&q));
            shown.push(q);
            changed = true;
        }
        if let Some(c) = a.comment.as_ref().filter(|c| **c != current_comment) {
            let q = format!("COMMENT ON ROLE {user} IS {}", literal(c));
            if !check {
                sent.push(q.clone());
            }
            shown.push(q);
            changed = true;
        }
        // Settings of the role.
        let wanted: Map<String, Json> = a
            .configuration
            .iter()
            .map(|(k, v)| {
                let v = crate::containers::py_str_python(v);
                (k.clone(), Json::from(if a.quote_configuration_values { v.replace('\'', "''") } else { v }))
            })
            .collect();
        let mut updates = wanted.clone();
        let mut resets = Vec::new();
        for (k, v) in &current_config {
            if wanted.get(k) == Some(v) {
                updates.remove(k);
            } else if !wanted.contains_key(k) && a.reset_unspecified_configuration {
                resets.push(k.clone());
            }
        }
        for k in resets {
            let q = format!("ALTER ROLE {user} RESET {};", ident(&k));
            sent.push(q.clone());
            shown.push(q);
            changed = true;
        }
        for (k, v) in updates {
            let v = v.as_str().unwrap_or_default();
            let q = if a.quote_configuration_values {
                format!("ALTER ROLE {user} SET {} TO '{v}';", ident(&k))
            } else {
                format!("ALTER ROLE {user} SET {} TO {v};", ident(&k))
            };
            sent.push(q.clone());
            shown.push(q);
            changed = true;
        }
        if !sent.is_empty() {
            let end = if check { "ROLLBACK;" } else { "COMMIT;" };
            let body: Vec<String> = sent.iter().map(|s| format!("{};", s.trim_end_matches(';'))).collect();
            let sql = format!("BEGIN;\n{}\n{end}", body.join("\n"));
            let failure =
                if exists { "Database query failed: " } else { "Unable to add user with given requirement due to : " };
            or_fail!(super::execute(cx, &a.conn(Some(&a.login_db)), &sql, failure).await);
        }
        o.changed = changed;
        Ok(o.with("queries", crate::containers::json_value(Json::from(shown))))
    }
}

#[async_trait]
impl Module for PostgresqlUser {
    const NAME: &'static str = "postgresql_user";
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
        if a.name.is_empty() {
            return Err("name must not be empty".into());
        }
        if !a.quote_configuration_values {
            for (k, v) in &a.configuration {
                let v = crate::containers::py_str_python(v);
                if !v.chars().all(|c| c.is_ascii_alphanumeric() || "_.,-+ ".contains(c))
                    || v.trim().is_empty()
                    || v.contains("--")
                {
                    return Err(format!(
                        "configuration `{k}`: with quote_configuration_values: false the value is SQL as written; prov takes only names, numbers and lists of them there, got: {v}"
                    ));
                }
            }
        }
        Ok(())
    }

    async fn plan(&self, a: &Args, cx: &ModuleCtx<'_>) -> Result<Plan<()>, ModuleError> {
        let action = if a.state == "absent" { Action::Delete } else { Action::Create };
        crate::util::decide_while_acting(cx, action, "postgresql role", a.name.clone(), self.run(a, cx, true)).await
    }

    async fn apply(&self, a: &Args, _: (), cx: &ModuleCtx<'_>) -> Result<Outcome, ModuleError> {
        self.run(a, cx, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A verifier PostgreSQL 15 stored for `s3cret` (`ALTER USER ... PASSWORD 's3cret'` with
    /// `password_encryption = scram-sha-256`).
    #[test]
    fn scram_verifiers_are_checked_against_the_password() {
        let stored = "SCRAM-SHA-256$4096:Po2vEaogBQQghILqIRDxhw==$N9LR0882r0SnlpAMoaqtwBTPhm93GlvR3Ls57PIUkkA=:T1XFy3NKUWivJoFBiiVne0rSpWEgw6tZhB2BOSBBoPc=";
        assert_eq!(scram_matches(stored, "s3cret"), Some(true));
        assert_eq!(scram_matches(stored, "other"), Some(false));
        assert_eq!(scram_matches("md5abc", "x"), None);
    }

    /// A password holding the expiry's placeholder stays one literal.
    #[test]
    fn values_are_put_in_their_places_once() {
        assert_eq!(
            fill_params("PASSWORD %(password)s VALID UNTIL %(expires)s", Some("a%(expires)s'b"), Some("2030-01-01")),
            "PASSWORD 'a%(expires)s''b' VALID UNTIL '2030-01-01'"
        );
    }

    #[test]
    fn flags_are_checked_and_ordered() {
        assert_eq!(parse_flags("createdb,NOSUPERUSER", 150000).as_deref(), Ok("CREATEDB NOSUPERUSER"));
        assert_eq!(parse_flags("", 150000).as_deref(), Ok(""));
        assert_eq!(parse_flags("BOGUS", 150000), Err("Invalid role_attr_flags specified: BOGUS".into()));
        assert!(parse_flags("BYPASSRLS", 90400).is_err());
    }
}
