//! PostgreSQL (community.postgresql): databases and roles, driven through `psql` on the target
//! (no Python, no psycopg). Each module reads the catalog with one `psql` run per question and
//! sends its statements in one more, in a transaction where community.postgresql uses one.
//!
//! The connection follows community.postgresql's arguments: `login_user` (default `$PGUSER`,
//! else `postgres`), `login_password`, `login_host`, `login_unix_socket` (used when the host
//! is empty or `localhost`), `login_port` (default `$PGPORT`, else 5432), `ssl_mode`,
//! `ca_cert`, `ssl_cert`, `ssl_key`, `connect_params`. The password goes to `psql` on its
//! standard input (as `PGPASSWORD`), never in a command line; statements go on standard input
//! too.

pub mod postgresql_db;
pub mod postgresql_ext;
pub mod postgresql_privs;
pub mod postgresql_schema;
pub mod postgresql_user;

use prov_core::cmd::{Cmd, Sh};
use prov_core::module::{ModuleCtx, ModuleError, Outcome};
use serde_json::{Map, Value as Json};

/// Declares an arguments struct with community.postgresql's connection arguments
/// (`postgres_common_argument_spec`) added to the module's own fields.
macro_rules! pg_args {
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($body)*
            /// The role to log in as (default `$PGUSER`, else `postgres`).
            #[serde(default, alias = "login")]
            pub login_user: Option<String>,
            /// Its password (sent on standard input).
            #[serde(default)]
            pub login_password: Option<String>,
            /// The server's host.
            #[serde(default, alias = "host")]
            pub login_host: Option<String>,
            /// The socket directory (for an empty host or `localhost`).
            #[serde(default, alias = "unix_socket")]
            pub login_unix_socket: Option<String>,
            /// The port.
            #[serde(default, alias = "port")]
            pub login_port: Option<i64>,
            /// `allow`, `disable`, `prefer`, `require`, `verify-ca`, `verify-full`.
            #[serde(default = "crate::db::prefer")]
            pub ssl_mode: String,
            /// The CA certificate.
            #[serde(default, alias = "ssl_rootcert")]
            pub ca_cert: Option<String>,
            /// The client certificate.
            #[serde(default)]
            pub ssl_cert: Option<String>,
            /// Its key.
            #[serde(default)]
            pub ssl_key: Option<String>,
            /// More libpq connection parameters.
            #[serde(default)]
            pub connect_params: serde_json::Map<String, serde_json::Value>,
            /// The role to act as (`SET ROLE`) once connected.
            #[serde(default)]
            pub session_role: Option<String>,
            /// Check names for SQL (accepted; prov quotes every name it sends).
            #[serde(default = "crate::db::yes", deserialize_with = "prov_core::args::lenient_bool")]
            pub trust_input: bool,
        }

        impl $name {
            /// The connection to `dbname` (`None`: libpq's default).
            pub(crate) fn conn(&self, dbname: Option<&str>) -> crate::db::Conn {
                crate::db::Conn {
                    user: self.login_user.clone().filter(|u| !u.is_empty()),
                    password: self.login_password.clone().filter(|p| !p.is_empty()),
                    host: self.login_host.clone().unwrap_or_default(),
                    socket: self.login_unix_socket.clone().unwrap_or_default(),
                    port: self.login_port,
                    ssl_mode: self.ssl_mode.clone(),
                    ca_cert: self.ca_cert.clone(),
                    ssl_cert: self.ssl_cert.clone(),
                    ssl_key: self.ssl_key.clone(),
                    dbname: dbname.filter(|d| !d.is_empty()).map(str::to_string),
                    params: self.connect_params.clone(),
                    session_role: self.session_role.clone().filter(|r| !r.is_empty()),
                }
            }
        }
    };
}
pub(crate) use pg_args;

pub(crate) fn prefer() -> String {
    "prefer".into()
}

pub(crate) fn yes() -> bool {
    true
}

pub(crate) fn present() -> String {
    "present".into()
}

pub(crate) fn postgres() -> String {
    "postgres".into()
}

/// The checks every module makes before connecting: `state` among `states` (in the order
/// community.postgresql lists them), `ssl_mode`, a password `psql` can be given, and
/// `connect_params` names (no passwords: they would be on `psql`'s command line).
pub(crate) fn check_common(
    state: &str,
    states: &[&str],
    ssl_mode: &str,
    password: Option<&str>,
    connect_params: &Map<String, Json>,
) -> Result<(), String> {
    for k in connect_params.keys() {
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(format!("connect_params: `{k}` is not a libpq connection parameter name"));
        }
        if k.contains("password") {
            return Err(format!(
                "connect_params: `{k}` would be on psql's command line; give the password as login_password"
            ));
        }
    }
    if !states.contains(&state) {
        return Err(format!("value of state must be one of: {}, got: {state}", states.join(", ")));
    }
    if !SSL_MODES.contains(&ssl_mode) {
        return Err(format!("value of ssl_mode must be one of: {}, got: {ssl_mode}", SSL_MODES.join(", ")));
    }
    check_password(password)
}

/// `ssl_mode`'s choices.
pub(crate) const SSL_MODES: &[&str] = &["allow", "disable", "prefer", "require", "verify-ca", "verify-full"];

/// How to reach the server (`get_conn_params`).
#[derive(Debug, Clone)]
pub(crate) struct Conn {
    user: Option<String>,
    password: Option<String>,
    host: String,
    socket: String,
    port: Option<i64>,
    ssl_mode: String,
    ca_cert: Option<String>,
    ssl_cert: Option<String>,
    ssl_key: Option<String>,
    dbname: Option<String>,
    params: Map<String, Json>,
    session_role: Option<String>,
}

/// A libpq connection-string value, quoted.
fn conninfo_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl Conn {
    /// The connection string (without the password, which goes on standard input).
    fn conninfo(&self) -> String {
        let mut kv: Vec<(String, String)> = Vec::new();
        let host = if self.host.is_empty() || self.host == "localhost" {
            if self.socket.is_empty() {
                self.host.clone()
            } else {
                self.socket.clone()
            }
        } else {
            self.host.clone()
        };
        if !host.is_empty() {
            kv.push(("host".into(), host));
        }
        if let Some(p) = self.port {
            kv.push(("port".into(), p.to_string()));
        }
        if let Some(u) = &self.user {
            kv.push(("user".into(), u.clone()));
        }
        if let Some(d) = &self.dbname {
            kv.push(("dbname".into(), d.clone()));
        }
        kv.push(("sslmode".into(), self.ssl_mode.clone()));
        for (k, v) in [("sslrootcert", &self.ca_cert), ("sslcert", &self.ssl_cert), ("sslkey", &self.ssl_key)] {
            if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                kv.push((k.into(), v.clone()));
            }
        }
        for (k, v) in &self.params {
            kv.retain(|(have, _)| have != k);
            kv.push((k.clone(), crate::containers::py_str_python(v)));
        }
        kv.iter().map(|(k, v)| format!("{k}={}", conninfo_value(v))).collect::<Vec<_>>().join(" ")
    }
}

/// Refuses a login password `psql` could not be given on one line of its standard input.
pub(crate) fn check_password(p: Option<&str>) -> Result<(), String> {
    if p.is_some_and(|p| p.contains('\n') || p.contains('\r')) {
        return Err("login_password must not contain a line break (prov hands it to psql on one line)".into());
    }
    Ok(())
}

/// `psql` reading its password line, then the statements, on standard input.
const PSQL: &str = r#"IFS= read -r p || exit 97
if [ -n "$p" ]; then PGPASSWORD=$p; export PGPASSWORD; fi
unset p
PGUSER=${PGUSER:-postgres}; export PGUSER
command -v psql >/dev/null 2>&1 || { echo "psql: command not found" >&2; exit 127; }
exec "#;

/// What a `psql` run gave.
pub(crate) enum Answer {
    /// The rows, one text line each.
    Rows(Vec<String>),
    /// It could not connect: libpq's message.
    NoConnection(String),
    /// A statement failed: the server's message (`ERROR:  ...`).
    Failed(String),
    /// `SET ROLE session_role` failed: the server's message.
    NoRole(String),
}

/// Runs `sql` (statements separated by `;`) in one session; with `ON_ERROR_STOP`, the first
/// failing statement ends it.
pub(crate) async fn psql(cx: &ModuleCtx<'_>, conn: &Conn, sql: &str) -> Result<Answer, ModuleError> {
    let cmd = Cmd::new("psql")
        .flag("-X")
        .flag("-q")
        .flag("-A")
        .flag("-t")
        .flag("-w")
        .opt("-v", "ON_ERROR_STOP=1")
        .opt("-d", conn.conninfo())
        .opt("-f", "-")
        .build();
    let script = Sh::lit(PSQL).glued(cmd);
    let mut stdin = conn.password.clone().unwrap_or_default().into_bytes();
    stdin.push(b'\n');
    // Literals are written with `'` doubled only: backslashes must be plain characters.
    stdin.extend_from_slice(b"SET standard_conforming_strings = on;\n");
    if let Some(r) = &conn.session_role {
        stdin.extend_from_slice(format!("SET ROLE {};\n", ident(r)).as_bytes());
    }
    stdin.extend_from_slice(sql.as_bytes());
    stdin.push(b'\n');
    let out = cx.exec_stdin(script, stdin).await?;
    let err = out.stderr_str();
    if out.rc == 127 {
        return Err(ModuleError::Failed(
            "psql is not installed on the host (the PostgreSQL modules run psql there)".into(),
        ));
    }
    if out.rc == 2 || err.starts_with("psql: error: ") {
        let msg = err.trim().strip_prefix("psql: error: ").unwrap_or(err.trim()).to_string();
        return Ok(Answer::NoConnection(msg));
    }
    if out.rc != 0 {
        // Line 1 sets standard strings, line 2 the session role.
        if conn.session_role.is_some() && err.starts_with("psql:<stdin>:2: ") {
            return Ok(Answer::NoRole(server_error(&err)));
        }
        return Ok(Answer::Failed(server_error(&err)));
    }
    Ok(Answer::Rows(out.stdout_str().lines().map(str::to_string).collect()))
}

/// The server's error as psycopg shows it: the message after `ERROR:  `, then its `DETAIL:`
/// and `HINT:` lines, each ending in a newline.
fn server_error(stderr: &str) -> String {
    let mut out = String::new();
    let mut lines = stderr.lines();
    for l in lines.by_ref() {
        if let Some(i) = l.find("ERROR:  ") {
            out.push_str(&l[i + "ERROR:  ".len()..]);
            out.push('\n');
            break;
        }
    }
    for l in lines {
        if l.starts_with("DETAIL:") || l.starts_with("HINT:") {
            out.push_str(l);
            out.push('\n');
        }
    }
    if out.is_empty() {
        out = format!("{}\n", stderr.trim());
    }
    out
}

/// community.postgresql's failure for a `session_role` it could not switch to.
pub(crate) fn no_role(msg: &str) -> Outcome {
    Outcome::failed(format!("Could not switch role: {msg}"))
}

/// community.postgresql's failure for a connection it could not make.
pub(crate) fn no_connection(msg: &str) -> Outcome {
    Outcome::failed(format!("unable to connect to database: {msg}\n"))
}

/// A quoted identifier (`"name"`, with `"` doubled).
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A quoted string literal (`'text'`, with `'` doubled), as psycopg sends a parameter.
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Runs statements that must succeed: their output lines, or the failed result with `failure`
/// before the server's message (`Database query failed: `, ...).
pub(crate) async fn execute(
    cx: &ModuleCtx<'_>,
    conn: &Conn,
    sql: &str,
    failure: &str,
) -> Result<Result<Vec<String>, Outcome>, ModuleError> {
    Ok(match psql(cx, conn, sql).await? {
        Answer::Rows(lines) => Ok(lines),
        Answer::NoConnection(m) => Err(no_connection(&m)),
        Answer::Failed(m) => Err(Outcome::failed(format!("{failure}{m}"))),
        Answer::NoRole(m) => Err(no_role(&m)),
    })
}

/// The server's `server_version_num` (`150018`).
pub(crate) async fn server_version(cx: &ModuleCtx<'_>, conn: &Conn) -> Result<Result<i64, Outcome>, ModuleError> {
    let v = crate::util::or_fail!(rows(cx, conn, "SELECT current_setting('server_version_num')::int").await, Err);
    Ok(Ok(v.first().and_then(|x| x.as_i64()).unwrap_or(0)))
}

/// Runs a query whose rows are single JSON values; the values, or the failed result.
pub(crate) async fn rows(
    cx: &ModuleCtx<'_>,
    conn: &Conn,
    sql: &str,
) -> Result<Result<Vec<Json>, Outcome>, ModuleError> {
    let lines = crate::util::or_fail!(execute(cx, conn, sql, "Database query failed: ").await, Err);
    Ok(Ok(lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or(Json::Null))
        .collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_quoted_for_sql_and_libpq() {
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(conninfo_value("a b'c\\"), "'a b\\'c\\\\'");
        let c = Conn {
            user: Some("app".into()),
            password: Some("secret".into()),
            host: "localhost".into(),
            socket: "/run/pg".into(),
            port: Some(5433),
            ssl_mode: "prefer".into(),
            ca_cert: None,
            ssl_cert: None,
            ssl_key: None,
            dbname: Some("acme".into()),
            params: Map::new(),
            session_role: None,
        };
        let info = c.conninfo();
        assert_eq!(info, "host='/run/pg' port='5433' user='app' dbname='acme' sslmode='prefer'");
        assert!(!info.contains("secret"));
        let err = "psql:<stdin>:2: ERROR:  role \"u\" cannot be dropped because some objects depend on it\nDETAIL:  owner of database d\n";
        assert_eq!(
            server_error(err),
            "role \"u\" cannot be dropped because some objects depend on it\nDETAIL:  owner of database d\n"
        );
    }
}
