//! Published ports: the host port of a Compose port, with everything a DevStack host port
//! cannot say reported (UDP, ranges, another address than 127.0.0.1, a random host port,
//! the same container port published twice).

use crate::loss::LossReport;
use crate::model::Port;

/// The host port to write for `port`, or `None` when it is not published (or cannot be).
pub fn host_port(name: &str, port: &Port, report: &mut LossReport) -> Option<i64> {
    let key = format!("ports.{}", port.target);
    if port.protocol.as_deref().is_some_and(|p| p != "tcp") {
        report.changed(
            name,
            &key,
            &format!(
                "{} port: DevStack ports are TCP",
                port.protocol.as_deref().unwrap_or("")
            ),
            "serve the protocol over TCP, or run the service outside the stack",
        );
    }
    let published = port.published.as_deref().filter(|p| !p.is_empty());
    let Some(published) = published else {
        if port.published.is_none() {
            report.changed(
                name,
                &key,
                "published on a random host port: becomes a container port only",
                "set a host port if programs on the host need it",
            );
        }
        return None;
    };
    let Ok(host) = published.parse::<i64>() else {
        report.changed(
            name,
            &key,
            &format!("host port range {published}: only the container port carries over"),
            "publish one host port per container port",
        );
        return None;
    };
    match port.host_ip.as_deref() {
        Some("127.0.0.1") => {}
        Some(ip) => report.changed(
            name,
            &key,
            &format!("published on {ip}: devstack binds host ports to 127.0.0.1"),
            "reach it from this machine; other machines go through the cluster",
        ),
        None => report.changed(
            name,
            &key,
            "published on every address (0.0.0.0): devstack binds host ports to 127.0.0.1",
            "reach it from this machine; other machines go through the cluster",
        ),
    }
    Some(host)
}
