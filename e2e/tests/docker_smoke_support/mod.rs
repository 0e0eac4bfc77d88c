//! The compose file of the smoke project and the clients that talk to its services
//! (RESP for redis, the SSL-request probe for postgres), for `docker_smoke.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Output;
use std::time::Duration;

use crate::{text, PG_DB, PG_USER};

pub(crate) fn compose_yaml(
    pg_image: &str,
    redis_image: &str,
    pg_pw: &str,
    redis_pw: &str,
) -> String {
    // Mirrors how the catalog runs these services: uid 999, read-only root with tmpfs for the
    // writable paths, postgres's Postgres-18 data layout (volume at /var/lib/postgresql, PGDATA
    // below it), redis's password on the command line and REDISCLI_AUTH in the health check.
    // `$$` is Compose's escape for a literal `$` (evaluated by the container's shell).
    format!(
        r#"services:
  postgres:
    image: {pg_image}
    user: "999:999"
    read_only: true
    tmpfs: [/var/run/postgresql, /tmp]
    environment:
      POSTGRES_PASSWORD: "{pg_pw}"
      POSTGRES_USER: {PG_USER}
      POSTGRES_DB: {PG_DB}
      PGDATA: /var/lib/postgresql/18/docker
    volumes: [pgdata:/var/lib/postgresql]
    ports: ["127.0.0.1::5432"]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -h 127.0.0.1 -U {PG_USER} -d {PG_DB}"]
      interval: 1s
      timeout: 5s
      retries: 90
  redis:
    image: {redis_image}
    user: "999:999"
    read_only: true
    tmpfs: [/tmp]
    command: ["redis-server", "--requirepass", "{redis_pw}", "--appendonly", "yes"]
    environment:
      REDIS_PASSWORD: "{redis_pw}"
    volumes: [redisdata:/data]
    ports: ["127.0.0.1::6379"]
    depends_on:
      postgres: {{condition: service_healthy}}
    healthcheck:
      test: ["CMD-SHELL", "REDISCLI_AUTH=\"$$REDIS_PASSWORD\" redis-cli ping | grep -q PONG"]
      interval: 1s
      timeout: 5s
      retries: 60
  pgclient:
    image: {pg_image}
    profiles: [tools]
  redisclient:
    image: {redis_image}
    profiles: [tools]
volumes:
  pgdata: {{}}
  redisdata: {{}}
"#
    )
}

/// Speaks RESP to redis on `addr`: returns the first reply line to each command.
pub(crate) fn redis_exchange(addr: SocketAddr, commands: &[&[&str]]) -> Vec<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connecting to redis at {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut replies = Vec::new();
    for cmd in commands {
        let mut req = format!("*{}\r\n", cmd.len());
        for a in *cmd {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes())
            .unwrap_or_else(|e| panic!("writing to redis at {addr}: {e}"));
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            match s.read(&mut b) {
                Ok(1) => line.push(b[0]),
                Ok(_) => break,
                Err(e) => panic!("reading from redis at {addr}: {e}"),
            }
        }
        replies.push(text(&line));
    }
    replies
}

/// Sends a PostgreSQL SSLRequest and returns the one-byte answer ('N': no TLS, but a postgres).
pub(crate) fn postgres_ssl_probe(addr: SocketAddr) -> u8 {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connecting to postgres at {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    s.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .unwrap_or_else(|e| panic!("writing SSLRequest to {addr}: {e}"));
    let mut b = [0u8; 1];
    s.read_exact(&mut b)
        .unwrap_or_else(|e| panic!("reading the SSLRequest answer from {addr}: {e}"));
    b[0]
}

pub(crate) fn image_for(images: &str, name: &str) -> String {
    images
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}=")))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("e2e/docker.sh images has no {name}= line:\n{images}"))
}

pub(crate) fn assert_contains(out: &Output, needle: &str, what: &str) {
    let all = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
    assert!(
        all.contains(needle),
        "{what}: expected {needle:?} in:\n{all}"
    );
}
