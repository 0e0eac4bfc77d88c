//! Per type: the real client operation (run in the dependent, with the connection values
//! devstack handed it: `SVC_URL`, `SVC_HOST`, …) and how a refused login looks.

use devstack_e2e::kubectl::ExecResult;

pub struct Kind {
    pub type_name: &'static str,
    /// The catalog's name of its main port.
    pub port_name: &'static str,
    /// Writes something; its output contains `write_expect`.
    pub write: &'static str,
    pub write_expect: &'static str,
    /// Reads it back; its output contains `read_expect`.
    pub read: &'static str,
    pub read_expect: &'static str,
    /// Logs in with the handed host, port and user but a wrong password.
    pub wrong_password: &'static str,
    /// Whether the wrong-password attempt was refused (and how it failed otherwise).
    pub refused: fn(&ExecResult) -> Result<(), String>,
}

const PSQL_WRONG: &str =
    "psql \"postgresql://$SVC_USER:wrong-password@$SVC_HOST:$SVC_PORT/$SVC_DB\" -tAc 'select 1'";

fn psql_refused(r: &ExecResult) -> Result<(), String> {
    if !r.ok && r.stderr.contains("password authentication failed") {
        Ok(())
    } else {
        Err(format!("a wrong password was not refused: {r}"))
    }
}

/// redis-cli / valkey-cli print the error and exit 0 on WRONGPASS: the reply is what counts.
fn redis_refused(r: &ExecResult) -> Result<(), String> {
    let all = format!("{}{}", r.stdout, r.stderr);
    if !all.contains("PONG") && (all.contains("WRONGPASS") || all.contains("NOAUTH")) {
        Ok(())
    } else {
        Err(format!("a wrong password was not refused: {r}"))
    }
}

const POSTGRES: Kind = Kind {
    type_name: "postgres",
    port_name: "postgres",
    write: "psql \"$SVC_URL\" -v ON_ERROR_STOP=1 -tAc \"create table if not exists conformance (v text); insert into conformance values ('written-by-client'); select 'inserted'\"",
    write_expect: "inserted",
    read: "psql \"$SVC_URL\" -v ON_ERROR_STOP=1 -tAc 'select v from conformance'",
    read_expect: "written-by-client",
    wrong_password: PSQL_WRONG,
    refused: psql_refused,
};

const PGVECTOR: Kind = Kind {
    type_name: "pgvector",
    port_name: "postgres",
    write: "psql \"$SVC_URL\" -v ON_ERROR_STOP=1 -tAc \"create extension if not exists vector; create table if not exists conformance (v text, e vector(3)); insert into conformance values ('written-by-client', '[1,2,3]'); select 'inserted'\"",
    write_expect: "inserted",
    read: "psql \"$SVC_URL\" -v ON_ERROR_STOP=1 -tAc \"select v || ':' || (e <-> '[1,2,4]') from conformance order by e <-> '[1,2,4]' limit 1\"",
    read_expect: "written-by-client:1",
    wrong_password: PSQL_WRONG,
    refused: psql_refused,
};

const TIMESCALEDB: Kind = Kind {
    type_name: "timescaledb",
    port_name: "postgres",
    write: "psql \"$SVC_URL\" -v ON_ERROR_STOP=1 -tAc \"create table if not exists conformance (t timestamptz not null, v text); select create_hypertable('conformance', by_range('t'), if_not_exists => true); insert into conformance values (now(), 'written-by-client'); select 'inserted'\"",
    write_expect: "inserted",
    read: "psql \"$SVC_URL\" -v ON_ERROR_STOP=1 -tAc \"select v || ':' || (select count(*) from timescaledb_information.hypertables where hypertable_name = 'conformance') from conformance\"",
    read_expect: "written-by-client:1",
    wrong_password: PSQL_WRONG,
    refused: psql_refused,
};

const REDIS: Kind = Kind {
    type_name: "redis",
    port_name: "redis",
    write: "redis-cli -u \"$SVC_URL\" --no-auth-warning set conformance written-by-client",
    write_expect: "OK",
    read: "redis-cli -u \"$SVC_URL\" --no-auth-warning get conformance",
    read_expect: "written-by-client",
    wrong_password: "redis-cli -u \"redis://default:wrong-password@$SVC_HOST:$SVC_PORT/0\" --no-auth-warning ping 2>&1",
    refused: redis_refused,
};

const VALKEY: Kind = Kind {
    type_name: "valkey",
    port_name: "redis",
    write: "valkey-cli -u \"$SVC_URL\" --no-auth-warning set conformance written-by-client",
    write_expect: "OK",
    read: "valkey-cli -u \"$SVC_URL\" --no-auth-warning get conformance",
    read_expect: "written-by-client",
    wrong_password: "valkey-cli -u \"redis://default:wrong-password@$SVC_HOST:$SVC_PORT/0\" --no-auth-warning ping 2>&1",
    refused: redis_refused,
};

const KINDS: &[Kind] = &[POSTGRES, PGVECTOR, TIMESCALEDB, REDIS, VALKEY];

pub fn kind(type_name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.type_name == type_name)
}

/// Every type with client checks.
pub fn type_names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|k| k.type_name)
}
