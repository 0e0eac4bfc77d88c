//! Smoke test of the local Docker engine that `e2e/docker.sh up` starts.
//!
//! Writes a Compose project with the locally built postgres and redis images (names from
//! `e2e/docker.sh images`), random passwords and the catalog's healthchecks, brings it up with
//! `<compose-bin> up -d --wait`, then checks that clients on the project network and on the host
//! log in with the configured credentials and are refused without them. The project is torn
//! down (`down -v`) however the test ends.
//!
//! Needs a running engine: `e2e/docker.sh up`, then
//! `DOCKER_HOST=$(e2e/docker.sh endpoint) cargo test -p devstack-e2e --test docker_smoke`.
//! Without an engine the test fails; it never skips.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod docker_smoke_support;
use docker_smoke_support::{
    assert_contains, compose_yaml, image_for, postgres_ssl_probe, redis_exchange,
};

pub(crate) const PG_USER: &str = "app";
pub(crate) const PG_DB: &str = "appdb";

/// Runs `bash e2e/docker.sh ARGS` and returns its trimmed stdout, panicking on failure.
fn docker_sh(args: &[&str]) -> String {
    let root = devstack_e2e::workspace_root();
    let out = Command::new("bash")
        .arg(root.join("e2e/docker.sh"))
        .args(args)
        .current_dir(&root)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running e2e/docker.sh {args:?}: {e}"));
    assert!(
        out.status.success(),
        "e2e/docker.sh {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A random lowercase-hex string (std only: RandomState is seeded from the OS).
fn random_hex(chars: usize) -> String {
    let mut s = String::new();
    while s.len() < chars {
        let mut h = RandomState::new().build_hasher();
        h.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        s.push_str(&format!("{:016x}", h.finish()));
    }
    s.truncate(chars);
    s
}

/// How long one compose command may take (`up --wait` has its own, longer budget).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);

/// Runs `cmd` to completion within `timeout`, killing it (and failing the test) otherwise, so a
/// broken network fails the test instead of hanging it.
fn output_within(mut cmd: Command, timeout: Duration, what: &str) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    }
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    match status {
        Some(status) => Output {
            status,
            stdout,
            stderr,
        },
        None => panic!(
            "{what} did not finish within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
            text(&stdout),
            text(&stderr)
        ),
    }
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim().to_string()
}

/// A Compose project on the local engine; `down -v` and the temp dir removal run on drop.
struct Project {
    name: String,
    dir: PathBuf,
    compose: String,
    docker_host: String,
}

impl Project {
    fn file(&self) -> PathBuf {
        self.dir.join("compose.yaml")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.compose);
        c.env("DOCKER_HOST", &self.docker_host)
            .arg("-p")
            .arg(&self.name)
            .arg("-f")
            .arg(self.file())
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let timeout = if args.first() == Some(&"up") {
            Duration::from_secs(240)
        } else {
            COMMAND_TIMEOUT
        };
        output_within(self.command(args), timeout, &format!("compose {args:?}"))
    }

    /// Removes every container of the project, one-off `run` containers included (which
    /// `compose down` leaves behind when a client was killed), so `down` can remove the network.
    fn remove_containers(&self) {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        let Ok(out) = Command::new("docker")
            .env("DOCKER_HOST", &self.docker_host)
            .args(["ps", "-aq", "--filter", &filter])
            .output()
        else {
            return;
        };
        let ids: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .env("DOCKER_HOST", &self.docker_host)
                .args(["rm", "-f", "-v"])
                .args(&ids)
                .output();
        }
    }

    /// Runs a compose command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "compose {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `compose run --rm` of a one-off client container on the project network.
    fn client(&self, service: &str, env: &[(&str, &str)], cmd: &[&str]) -> Output {
        let mut args: Vec<String> = ["run", "--rm", "--no-deps", "-T"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (k, v) in env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        args.push(service.into());
        args.extend(cmd.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&refs)
    }

    fn published(&self, service: &str, port: u16) -> SocketAddr {
        let out = self.ok(&["port", service, &port.to_string()]);
        let line = out.lines().next().unwrap_or_default().trim().to_string();
        line.parse()
            .unwrap_or_else(|e| panic!("compose port {service} {port} printed {line:?}: {e}"))
    }

    fn logs(&self) -> String {
        match self
            .command(&["logs", "--no-color", "--tail", "60"])
            .output()
        {
            Ok(out) => format!("{}\n{}", text(&out.stdout), text(&out.stderr)),
            Err(e) => format!("(compose logs: {e})"),
        }
    }
}

impl Drop for Project {
    // Nothing here may panic (a panic while unwinding aborts): plain `output()`, errors printed.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- compose logs of {} ---\n{}", self.name, self.logs());
        }
        self.remove_containers();
        let down = [
            "--profile",
            "tools",
            "down",
            "-v",
            "--remove-orphans",
            "-t",
            "5",
        ];
        match self.command(&down).output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => eprintln!(
                "compose down of {} failed: {}",
                self.name,
                text(&out.stderr)
            ),
            Err(e) => eprintln!("compose down of {}: {e}", self.name),
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn compose_project_with_local_postgres_and_redis() {
    let started = Instant::now();
    let docker_host = devstack_e2e::docker_host();
    let compose = docker_sh(&["compose-bin"]);
    let images = docker_sh(&["images"]);
    let pg_image = image_for(&images, "postgres");
    let redis_image = image_for(&images, "redis");

    let name = format!("smoke-{}", random_hex(10));
    let dir = std::env::temp_dir().join(format!("devstack-{name}"));
    std::fs::create_dir_all(&dir).expect("creating the project dir");
    let pg_pw = random_hex(24);
    let redis_pw = random_hex(24);
    let project = Project {
        name,
        dir,
        compose,
        docker_host,
    };
    std::fs::write(
        project.file(),
        compose_yaml(&pg_image, &redis_image, &pg_pw, &redis_pw),
    )
    .expect("writing compose.yaml");

    // The engine must answer; no engine is a failure, not a skip.
    let ls = project.run(&["ls"]);
    assert!(
        ls.status.success(),
        "the Docker engine at {} does not answer (start it with `e2e/docker.sh up`):\n{}",
        project.docker_host,
        text(&ls.stderr)
    );

    project.ok(&["up", "-d", "--wait", "--wait-timeout", "180"]);
    eprintln!("compose up --wait: {:?}", started.elapsed());

    // Both run as uid 999, and postgres put its cluster where PGDATA says.
    let pg_uid = project.ok(&["exec", "-T", "postgres", "id", "-u"]);
    assert_eq!(pg_uid, "999", "postgres container user");
    let pg_version = project.ok(&[
        "exec",
        "-T",
        "postgres",
        "cat",
        "/var/lib/postgresql/18/docker/PG_VERSION",
    ]);
    assert!(!pg_version.is_empty(), "no PG_VERSION under PGDATA");
    let redis_status = project.ok(&["exec", "-T", "redis", "cat", "/proc/1/status"]);
    let redis_uid = redis_status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap_or_default()
        .to_string();
    assert!(
        redis_uid.split_whitespace().nth(1) == Some("999"),
        "redis-server should run as uid 999, got {redis_uid:?}"
    );

    // A second container on the project network logs in to postgres over TCP.
    let sql = "select current_user || '@' || current_database()";
    let out = project.client(
        "pgclient",
        &[("PGPASSWORD", &pg_pw), ("PGCONNECT_TIMEOUT", "10")],
        &[
            "psql", "-h", "postgres", "-U", PG_USER, "-d", PG_DB, "-tAc", sql,
        ],
    );
    assert!(
        out.status.success(),
        "psql with the configured password failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), format!("{PG_USER}@{PG_DB}"));

    // A wrong password is refused, over the network and on 127.0.0.1 inside the container.
    let out = project.client(
        "pgclient",
        &[
            ("PGPASSWORD", "not-the-password"),
            ("PGCONNECT_TIMEOUT", "10"),
        ],
        &[
            "psql", "-h", "postgres", "-U", PG_USER, "-d", PG_DB, "-tAc", "select 1",
        ],
    );
    assert!(
        !out.status.success(),
        "psql with a wrong password succeeded"
    );
    assert_contains(
        &out,
        "password authentication failed",
        "wrong password over the network",
    );
    let out = project.run(&[
        "exec",
        "-T",
        "-e",
        "PGPASSWORD=not-the-password",
        "postgres",
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        PG_USER,
        "-d",
        PG_DB,
        "-tAc",
        "select 1",
    ]);
    assert!(
        !out.status.success(),
        "psql -h 127.0.0.1 with a wrong password succeeded"
    );
    assert_contains(
        &out,
        "password authentication failed",
        "wrong password on 127.0.0.1",
    );
    let out = project.ok(&[
        "exec",
        "-T",
        "-e",
        &format!("PGPASSWORD={pg_pw}"),
        "postgres",
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        PG_USER,
        "-d",
        PG_DB,
        "-tAc",
        "select 1",
    ]);
    assert_eq!(out, "1");

    // redis over the project network: the password works, no password gets NOAUTH.
    let out = project.client(
        "redisclient",
        &[],
        &[
            "redis-cli",
            "-h",
            "redis",
            "-a",
            &redis_pw,
            "--no-auth-warning",
            "ping",
        ],
    );
    assert!(
        out.status.success(),
        "redis-cli failed: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "PONG");
    let out = project.client("redisclient", &[], &["redis-cli", "-h", "redis", "ping"]);
    assert_contains(&out, "NOAUTH", "redis-cli without a password");

    // From the host through the published 127.0.0.1 ports.
    let redis_addr = project.published("redis", 6379);
    let replies = redis_exchange(
        redis_addr,
        &[
            &["PING"],
            &["AUTH", "wrong"],
            &["AUTH", &redis_pw],
            &["PING"],
        ],
    );
    assert!(
        replies[0].starts_with("-NOAUTH"),
        "PING before AUTH: {replies:?}"
    );
    assert!(
        replies[1].starts_with("-WRONGPASS"),
        "AUTH wrong: {replies:?}"
    );
    assert_eq!(replies[2], "+OK", "AUTH: {replies:?}");
    assert_eq!(replies[3], "+PONG", "PING after AUTH: {replies:?}");
    let pg_addr = project.published("postgres", 5432);
    assert_eq!(
        postgres_ssl_probe(pg_addr),
        b'N',
        "SSLRequest answer from {pg_addr}"
    );

    eprintln!("docker smoke checks done: {:?}", started.elapsed());
}
