//! The rendered compose model as Compose itself reads it: interpolations filled from the
//! `.env` values (`${ID:?…}` → the secret, `$$` → `$`) and the renderer's spellings of ports,
//! durations, CPUs and memory parsed back to numbers (with `devstack_render_compose::spelling`). The driver starts from this resolved
//! model, so what it creates is what `docker compose up` creates from the rendered file.

use std::collections::BTreeMap;

use devstack_render_compose::model::{Healthcheck, OrderedMap, Service};
use devstack_render_compose::spelling;

use super::DriverError;

/// `service` with every interpolation resolved against `secrets`.
pub fn resolve_service(
    name: &str,
    service: &Service,
    secrets: &BTreeMap<String, String>,
) -> Result<Service, DriverError> {
    let text = |value: &str| resolve_text(name, value, secrets);
    let list = |values: &[String]| -> Result<Vec<String>, DriverError> {
        values.iter().map(|v| text(v)).collect()
    };
    let mut out = service.clone();
    out.image = text(&service.image)?;
    out.user = service.user.as_deref().map(text).transpose()?;
    out.entrypoint = service.entrypoint.as_deref().map(list).transpose()?;
    out.command = service.command.as_deref().map(list).transpose()?;
    out.environment = OrderedMap(
        service
            .environment
            .0
            .iter()
            .map(|(k, v)| Ok((k.clone(), text(v)?)))
            .collect::<Result<_, DriverError>>()?,
    );
    out.healthcheck = service
        .healthcheck
        .as_ref()
        .map(|h| -> Result<Healthcheck, DriverError> {
            Ok(Healthcheck {
                test: list(&h.test)?,
                ..h.clone()
            })
        })
        .transpose()?;
    for mount in &mut out.volumes {
        mount.target = text(&mount.target)?;
    }
    out.tmpfs = list(&service.tmpfs)?;
    out.cap_add = list(&service.cap_add)?;
    Ok(out)
}

/// Resolves Compose interpolation as the renderer writes it: `$$` is a literal `$`,
/// `${ID:?message}` (or `${ID}`) is the value of secret `ID`.
pub fn resolve_text(
    service: &str,
    text: &str,
    secrets: &BTreeMap<String, String>,
) -> Result<String, DriverError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or_else(|| DriverError::Interpolation {
                service: service.to_string(),
                text: text.to_string(),
            })?;
            let id = body[..end].split(':').next().unwrap_or_default();
            let value = secrets.get(id).ok_or_else(|| DriverError::MissingSecret {
                service: service.to_string(),
                id: id.to_string(),
            })?;
            out.push_str(value);
            rest = &body[end + 1..];
        } else {
            return Err(DriverError::Interpolation {
                service: service.to_string(),
                text: text.to_string(),
            });
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A published port, `127.0.0.1:HOST:CONTAINER`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedPort {
    /// Host address.
    pub host_ip: String,
    /// Host port.
    pub host: u16,
    /// Container port.
    pub container: u16,
}

/// Parses the renderer's `ip:host:container` port spelling.
pub fn parse_port(spec: &str) -> Result<PublishedPort, DriverError> {
    let bad = || DriverError::Spelling {
        what: "port",
        text: spec.to_string(),
    };
    let mut parts = spec.rsplitn(3, ':');
    let container = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let host = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let host_ip = parts.next().ok_or_else(bad)?.to_string();
    Ok(PublishedPort {
        host_ip,
        host,
        container,
    })
}

fn spelling_error(what: &'static str, text: &str) -> DriverError {
    DriverError::Spelling {
        what,
        text: text.to_string(),
    }
}

/// Reads the renderer's durations back ([`spelling::parse_seconds`]).
pub fn parse_seconds(text: &str) -> Result<u64, DriverError> {
    spelling::parse_seconds(text).ok_or_else(|| spelling_error("duration", text))
}

/// Reads a decimal CPU count as Compose does, a float32 ([`spelling::parse_cpus`]).
pub fn parse_cpus(text: &str) -> Result<f32, DriverError> {
    spelling::parse_cpus(text).ok_or_else(|| spelling_error("cpus", text))
}

/// Reads Docker's binary memory units ([`spelling::parse_memory`]).
pub fn parse_memory(text: &str) -> Result<u64, DriverError> {
    spelling::parse_memory(text).ok_or_else(|| spelling_error("memory", text))
}

/// Millicores of a decimal CPU count, exactly ([`spelling::cpu_millis`]).
pub fn cpu_millis(text: &str) -> Result<u64, DriverError> {
    spelling::cpu_millis(text).ok_or_else(|| spelling_error("cpus", text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_is_resolved_like_compose() {
        let secrets = BTreeMap::from([("PW".to_string(), "s3cret".to_string())]);
        assert_eq!(
            resolve_text("db", "a$$b ${PW:?missing: run x} $${PW}", &secrets).unwrap(),
            "a$b s3cret ${PW}"
        );
        assert!(matches!(
            resolve_text("db", "${NOPE:?x}", &secrets),
            Err(DriverError::MissingSecret { .. })
        ));
    }

    #[test]
    fn spellings_parse_back() {
        assert_eq!(
            parse_port("127.0.0.1:5433:5432").unwrap(),
            PublishedPort {
                host_ip: "127.0.0.1".into(),
                host: 5433,
                container: 5432
            }
        );
        assert_eq!(parse_seconds("30s").unwrap(), 30);
        assert_eq!(parse_memory("256m").unwrap(), 256 << 20);
        assert_eq!(parse_memory("1000000000").unwrap(), 1_000_000_000);
        assert_eq!(cpu_millis("0.25").unwrap(), 250);
        assert_eq!(cpu_millis("2").unwrap(), 2000);
        assert_eq!(cpu_millis("2.05").unwrap(), 2050);
    }
}
