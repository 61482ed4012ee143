//! community.postgresql's `postgresql_db`, `postgresql_user`, `postgresql_ext`,
//! `postgresql_schema` and `postgresql_privs` against a private PostgreSQL
//! server (Debian's `postgresql`: `initdb` into a temporary directory, listening on a free
//! loopback port, `postgres` with a password; stopped when the test ends). The play is
//! `results/postgresql.yml` (databases and roles created, changed, dropped, in check mode and
//! again, with the failures for a missing owner, another encoding, a role that owns a database,
//! a refused login and bad flags); `results/postgresql.json` is what ansible-core 2.19.14 with
//! community.postgresql 4.2 (the `ansible` 12.3.0 package, psycopg2 2.9) registered for it
//! against the same kind of server, with its port as `@PORT@`.

use crate::language::apply;
use serde_json::Value as Json;
use std::path::PathBuf;
use std::process::Command;

/// A PostgreSQL server of its own on `127.0.0.1:port`, login `postgres`/`pgpass`.
pub(crate) struct PgServer {
    pub(crate) port: u16,
    bin: PathBuf,
    dir: tempfile::TempDir,
}

fn as_postgres(cmd: &str) {
    let out = Command::new("su").args(["postgres", "-s", "/bin/sh", "-c", cmd]).output().expect("su postgres");
    assert!(
        out.status.success(),
        "{cmd}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgServer {
    pub(crate) fn start() -> PgServer {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL (scripts/install-prereqs tests installs Debian's postgresql)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()
            .expect("initdb under /usr/lib/postgresql/*/bin");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display().to_string();
        std::fs::write(dir.path().join("pw"), "pgpass\n").expect("pwfile");
        let st = Command::new("chown").args(["-R", "postgres", &d]).status().expect("chown");
        assert!(st.success());
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let b = bin.display();
        as_postgres(&format!(
            "{b}/initdb -D {d}/data -U postgres --auth=scram-sha-256 --pwfile={d}/pw -E UTF8 --locale=C.UTF-8 >/dev/null"
        ));
        as_postgres(&format!(
            "{b}/pg_ctl -D {d}/data -l {d}/log -o '-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={d}' -w start >/dev/null"
        ));
        PgServer { port, bin, dir }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let cmd = format!(
            "{}/pg_ctl -D {}/data -m immediate stop >/dev/null 2>&1",
            self.bin.display(),
            self.dir.path().display()
        );
        let _ = Command::new("su").args(["postgres", "-s", "/bin/sh", "-c", &cmd]).status();
    }
}

/// A result without ansible-core's bookkeeping of loops and the deprecation notices of
/// community.postgresql's old aliases (`db`, `database`), which prov does not give.
fn clean(v: &Json) -> Json {
    match v {
        Json::Array(a) => Json::Array(a.iter().map(clean).collect()),
        Json::Object(m) => {
            let mut m = m.clone();
            for k in ["exception", "invocation", "item", "ansible_loop_var", "deprecations"] {
                m.remove(k);
            }
            Json::Object(m)
        }
        other => other.clone(),
    }
}

/// Runs `play` against `pg` and checks its registered results against `recorded`.
fn check(pg: &PgServer, play: &str, recorded: &str) {
    let port = pg.port.to_string();
    let (_d, r) = apply(&[("site.yml", play)], &["-e", "pgpass=pgpass", "-e", &format!("pgport={port}")]);
    assert_eq!(r.code, 0, "{}", r.dump());
    let shown = r.of("debug").last().and_then(|x| x["msg"].as_str()).expect("debug").to_string();
    let got: Json = serde_json::from_str(&shown.replace(&format!("port {port}"), "port @PORT@")).expect("JSON");
    let got: Vec<Json> = got.as_array().expect("list").iter().map(clean).collect();
    crate::util::assert_recorded(&got, recorded, "r");
    // The passwords are not in the output.
    assert!(!r.dump().contains("s3cret"), "a password was shown");
}

#[test]
fn postgresql_databases_and_roles_change_as_community_postgresql() {
    let pg = PgServer::start();
    check(&pg, include_str!("results/postgresql.yml"), include_str!("results/postgresql.json"));
}

/// `postgresql_ext` (create, versions and update paths, comment, drop) and
/// `postgresql_schema` (create with owner and comment, change, drop), recorded as above
/// (`results/postgresql_ext_schema.*`).
#[test]
fn postgresql_extensions_and_schemas_change_as_community_postgresql() {
    let pg = PgServer::start();
    check(&pg, include_str!("results/postgresql_ext_schema.yml"), include_str!("results/postgresql_ext_schema.json"));
}

/// `postgresql_privs` on a database, tables (one, all in a schema, with and without the grant
/// option), a schema, a group, default privileges, a function and a sequence, revoked, and its
/// failures, recorded as above (`results/postgresql_privs.*`).
#[test]
fn postgresql_privileges_are_granted_and_revoked_as_community_postgresql() {
    let pg = PgServer::start();
    check(&pg, include_str!("results/postgresql_privs.yml"), include_str!("results/postgresql_privs.json"));
}

/// `postgresql_user` logged in as a role with CREATEROLE but not a superuser, which may not
/// read `pg_authid`: the role is read from `pg_roles`, its password counted as changed, as
/// community.postgresql does (`results/postgresql_createrole.*`; prov failed with "permission
/// denied for table pg_authid").
#[test]
fn postgresql_user_works_for_a_createrole_login_as_community_postgresql() {
    let pg = PgServer::start();
    let out = Command::new("psql")
        .env("PGPASSWORD", "pgpass")
        .args(["-X", "-q", "-h", "127.0.0.1", "-p", &pg.port.to_string(), "-U", "postgres", "-d", "postgres", "-c"])
        .arg("CREATE ROLE mgr LOGIN CREATEROLE PASSWORD 'mgrpw'")
        .output()
        .expect("psql");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    check(&pg, include_str!("results/postgresql_createrole.yml"), include_str!("results/postgresql_createrole.json"));
}

/// `session_role`: the statements run as that role, and a role that cannot be taken fails
/// with community.postgresql's "Could not switch role" (prov said "Database query failed";
/// `results/postgresql_session_role.*`).
#[test]
fn a_session_role_that_cannot_be_taken_fails_as_community_postgresql() {
    let pg = PgServer::start();
    check(
        &pg,
        include_str!("results/postgresql_session_role.yml"),
        include_str!("results/postgresql_session_role.json"),
    );
}
