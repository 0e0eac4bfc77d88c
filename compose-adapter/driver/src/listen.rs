//! Whether a starting container listens yet on one of its ports, read from this host's
//! `/proc` without touching the container. The driver's own health checks are execs: each is
//! a new process in the container, CPU the service's start (postgres' initdb) competes with.
//! While the service listens on none of its ports the driver checks seldom, and at once when
//! it starts listening. The answer only paces the checks: ready is still the check passing.

use std::path::Path;

/// What this host's `/proc` says about a container's listening TCP sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listening {
    /// A socket listens on one of the ports.
    Yes,
    /// The container's network namespace has no listener on any of them yet.
    No,
    /// This host cannot tell: another machine's engine, another PID namespace, no ports.
    Unknown,
}

/// The TCP ports of a container's `ExposedPorts` (`"5432/tcp"`); other protocols are left out.
pub fn tcp_ports(exposed: &[String]) -> Vec<u16> {
    exposed
        .iter()
        .filter_map(|p| p.strip_suffix("/tcp").and_then(|n| n.parse().ok()))
        .collect()
}

/// Reads the TCP tables of the network namespace of `pid` (the container's main process, as
/// the engine reports it) under `proc_root`. The process must be the container's: its cgroup
/// names `container_id`, else a PID of another namespace could answer for a stranger.
pub fn listening(proc_root: &Path, pid: i64, container_id: &str, ports: &[u16]) -> Listening {
    if pid <= 0 || ports.is_empty() || container_id.len() < 12 {
        return Listening::Unknown;
    }
    let dir = proc_root.join(pid.to_string());
    let Ok(cgroup) = std::fs::read_to_string(dir.join("cgroup")) else {
        return Listening::Unknown;
    };
    if !cgroup.contains(container_id) {
        return Listening::Unknown;
    }
    let mut readable = false;
    for table in ["net/tcp", "net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(table)) {
            readable = true;
            if table_listens(&text, ports) {
                return Listening::Yes;
            }
        }
    }
    if readable {
        Listening::No
    } else {
        Listening::Unknown
    }
}

/// The state `0A` of the kernel's TCP tables.
const TCP_LISTEN: &str = "0A";

/// Whether a table in the format of `/proc/net/tcp` holds a listener on one of `ports`.
pub fn table_listens(table: &str, ports: &[u16]) -> bool {
    table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        let local = fields.nth(1);
        let state = fields.nth(1);
        state == Some(TCP_LISTEN)
            && local
                .and_then(|l| l.rsplit_once(':'))
                .and_then(|(_, port)| u16::from_str_radix(port, 16).ok())
                .is_some_and(|port| ports.contains(&port))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2b9c0d1e4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344";

    /// A table as the kernel prints it: 127.0.0.11:40035 listening (Docker's DNS), a
    /// connection from port 5432 to elsewhere, and `listen` on port 6379 when asked.
    fn tcp_table(listen: bool) -> String {
        let mut t = String::from(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0B00007F:9C63 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 10 0\n   1: 0200D20A:1538 0300D20A:D2F0 01 00000000:00000000 00:00000000 00000000   999        0 2 1 0 20 4 30 10 -1\n",
        );
        if listen {
            t.push_str("   2: 00000000:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 3 1 0 100 0 0 10 0\n");
        }
        t
    }

    #[test]
    fn a_listener_on_a_port_counts_and_a_connection_from_it_does_not() {
        assert!(table_listens(&tcp_table(true), &[6379]));
        assert!(!table_listens(&tcp_table(false), &[6379]));
        assert!(
            !table_listens(&tcp_table(true), &[5432]),
            "5432 is only a connection's local end, not a listener"
        );
        assert!(!table_listens("", &[6379]));
    }

    #[test]
    fn only_tcp_ports_are_taken() {
        let exposed = ["5432/tcp", "53/udp", "bogus", "8080/tcp"].map(String::from);
        assert_eq!(tcp_ports(&exposed), vec![5432, 8080]);
    }

    fn fake_proc(cgroup: &str, tcp: Option<&str>) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("42");
        std::fs::create_dir_all(dir.join("net")).unwrap();
        std::fs::write(dir.join("cgroup"), cgroup).unwrap();
        if let Some(tcp) = tcp {
            std::fs::write(dir.join("net/tcp"), tcp).unwrap();
        }
        root
    }

    #[test]
    fn the_container_s_own_process_answers_and_a_stranger_does_not() {
        let mine = format!("12:pids:/docker/{ID}\n0::/system.slice/docker-{ID}.scope\n");
        let root = fake_proc(&mine, Some(&tcp_table(true)));
        assert_eq!(listening(root.path(), 42, ID, &[6379]), Listening::Yes);
        assert_eq!(listening(root.path(), 42, ID, &[5432]), Listening::No);

        let stranger = fake_proc("0::/user.slice/session-1.scope\n", Some(&tcp_table(true)));
        assert_eq!(
            listening(stranger.path(), 42, ID, &[6379]),
            Listening::Unknown
        );
    }

    #[test]
    fn nothing_to_read_or_nothing_to_ask_is_unknown() {
        let mine = format!("0::/docker/{ID}\n");
        let root = fake_proc(&mine, None);
        assert_eq!(listening(root.path(), 42, ID, &[6379]), Listening::Unknown);
        assert_eq!(listening(root.path(), 7, ID, &[6379]), Listening::Unknown);
        let with_table = fake_proc(&mine, Some(&tcp_table(true)));
        assert_eq!(
            listening(with_table.path(), 42, ID, &[]),
            Listening::Unknown
        );
        assert_eq!(
            listening(with_table.path(), 0, ID, &[6379]),
            Listening::Unknown
        );
    }
}
