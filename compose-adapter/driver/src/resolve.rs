//! The rendered compose model as Compose itself reads it: interpolations filled from the
//! `.env` values (`${ID:?…}` → the secret, `$$` → `$`) and the renderer's spellings of ports,
//! durations, CPUs and memory parsed back to numbers. The driver starts from this resolved
//! model, so what it creates is what `docker compose up` creates from the rendered file.

use std::collections::BTreeMap;

use crate::model::{Healthcheck, OrderedMap, Service};

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

/// Parses the renderer's `Ns` durations.
pub fn parse_seconds(text: &str) -> Result<u64, DriverError> {
    text.strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| DriverError::Spelling {
            what: "duration",
            text: text.to_string(),
        })
}

/// Parses a decimal CPU count (`0.25`) as Compose does (a float32).
pub fn parse_cpus(text: &str) -> Result<f32, DriverError> {
    text.parse().map_err(|_| DriverError::Spelling {
        what: "cpus",
        text: text.to_string(),
    })
}

/// Parses Docker's binary memory units (`256m`, `1g`, plain bytes).
pub fn parse_memory(text: &str) -> Result<u64, DriverError> {
    let bad = || DriverError::Spelling {
        what: "memory",
        text: text.to_string(),
    };
    let (digits, shift) = match text.char_indices().last() {
        Some((i, 'k')) => (&text[..i], 10),
        Some((i, 'm')) => (&text[..i], 20),
        Some((i, 'g')) => (&text[..i], 30),
        Some((i, 't')) => (&text[..i], 40),
        _ => (text, 0),
    };
    let count: u64 = digits.parse().map_err(|_| bad())?;
    count.checked_shl(shift).ok_or_else(bad)
}

/// Millicores of a decimal CPU count, exactly (`0.25` → 250).
pub fn cpu_millis(text: &str) -> Result<u64, DriverError> {
    let bad = || DriverError::Spelling {
        what: "cpus",
        text: text.to_string(),
    };
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<3}").parse().map_err(|_| bad())?
    };
    Ok(whole * 1000 + frac)
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
