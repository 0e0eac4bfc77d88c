//! Compose's units, written and read in one place: durations (`10s`), CPU counts (`0.25`),
//! memory sizes (`256m`) and published ports (`127.0.0.1:5433:5432`).
//!
//! The compose model holds them as typed values ([`Seconds`], [`Cpus`], [`Memory`],
//! [`PublishedPort`]) that serialize to their Compose spelling, so the Docker driver reads the
//! numbers and never parses text back; parity, which reads YAML (a rendering or a running
//! container), reads with the `parse_*` functions here. A spelling and its reading cannot
//! drift apart.

use std::fmt;

use serde::{Serialize, Serializer};

/// A duration in whole seconds, spelled `10s`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seconds(pub u32);

/// A CPU count in millicores, spelled as a decimal: 250 → `0.25`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cpus(pub u64);

/// A memory size in bytes, spelled in Docker's binary units: `256m`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Memory(pub u64);

/// A port published on the host, spelled `ip:host:container`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedPort {
    /// Host address.
    pub host_ip: String,
    /// Host port.
    pub host: u16,
    /// Container port.
    pub container: u16,
}

impl Cpus {
    /// The count as Compose reads it, a float32 of the spelling (what its config hash holds).
    pub fn as_f32(self) -> f32 {
        parse_cpus(&cpus(self.0)).unwrap_or_default()
    }
}

impl PublishedPort {
    /// Reads `ip:host:container`; `None` for anything else.
    pub fn parse(text: &str) -> Option<PublishedPort> {
        let mut parts = text.rsplitn(3, ':');
        let container = parts.next()?.parse().ok()?;
        let host = parts.next()?.parse().ok()?;
        let host_ip = parts.next()?.to_string();
        Some(PublishedPort {
            host_ip,
            host,
            container,
        })
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&seconds(self.0))
    }
}

impl fmt::Display for Cpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&cpus(self.0))
    }
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&memory(self.0))
    }
}

impl fmt::Display for PublishedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.host_ip, self.host, self.container)
    }
}

macro_rules! serialize_as_spelled {
    ($($type:ty),*) => {$(
        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
    )*};
}

serialize_as_spelled!(Seconds, Cpus, Memory, PublishedPort);

/// Seconds as a Compose duration: 10 → `10s`.
pub fn seconds(n: u32) -> String {
    format!("{n}s")
}

/// Seconds of a Compose (Go) duration: `10s`, `1m30s`, `2h`, or a plain count; `None` for
/// anything else.
pub fn parse_seconds(text: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
        } else {
            let n: u64 = number.parse().ok()?;
            number.clear();
            total += match c {
                's' => n,
                'm' => n * 60,
                'h' => n * 3600,
                _ => return None,
            };
        }
    }
    if !number.is_empty() {
        total += number.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Millicores as a decimal CPU count: 250 → `0.25`, 1000 → `1`, 1500 → `1.5`.
pub fn cpus(millis: u64) -> String {
    let whole = millis / 1000;
    let frac = millis % 1000;
    if frac == 0 {
        whole.to_string()
    } else {
        let digits = format!("{frac:03}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// A decimal CPU count as Compose reads it (a float32): `0.25` → 0.25.
pub fn parse_cpus(text: &str) -> Option<f32> {
    text.parse().ok()
}

/// Millicores of a decimal CPU count, exactly (`0.25` → 250); `None` beyond millicores.
pub fn cpu_millis(text: &str) -> Option<u64> {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let frac: u64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<3}").parse().ok()?
    };
    Some(whole * 1000 + frac)
}

/// Bytes in Docker's binary units (`256m` = 256 MiB, `1g` = 1 GiB), using the largest unit
/// that divides exactly; a plain byte count otherwise. Docker (go-units `RAMInBytes`) reads
/// `k`/`m`/`g` as powers of 1024, so the value is exact. Kubernetes-style `Mi` is rejected by
/// Compose, hence the lower-case single letters.
pub fn memory(bytes: u64) -> String {
    let (count, power) = devstack_core::quantity::binary_unit(bytes);
    format!("{count}{}", ["", "k", "m", "g", "t"][power])
}

/// Bytes of a Docker memory size as go-units `RAMInBytes` reads it: `256m`, `1g`, `512MB`,
/// `1000000000` (case-insensitive, an optional `b`); `None` for anything else.
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, shift) = match lower.char_indices().last()? {
        (i, 'k') => (&lower[..i], 10),
        (i, 'm') => (&lower[..i], 20),
        (i, 'g') => (&lower[..i], 30),
        (i, 't') => (&lower[..i], 40),
        _ => (lower, 0),
    };
    let count: u64 = digits.parse().ok()?;
    count.checked_shl(shift).filter(|n| n >> shift == count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_spellings() {
        assert_eq!(cpus(250), "0.25");
        assert_eq!(cpus(1000), "1");
        assert_eq!(cpus(1500), "1.5");
        assert_eq!(cpus(100), "0.1");
        assert_eq!(cpus(1), "0.001");
        assert_eq!(cpus(2050), "2.05");
    }

    #[test]
    fn memory_spellings() {
        assert_eq!(memory(256 << 20), "256m");
        assert_eq!(memory(1 << 30), "1g");
        assert_eq!(memory(1536 << 20), "1536m");
        assert_eq!(memory(3 << 10), "3k");
        assert_eq!(memory(1_000_000_000), "1000000000");
        assert_eq!(memory(0), "0");
    }

    #[test]
    fn spellings_read_back() {
        assert_eq!(parse_seconds(&seconds(30)), Some(30));
        assert_eq!(parse_seconds("1m30s"), Some(90));
        assert_eq!(parse_seconds("10s"), Some(10));
        assert_eq!(parse_seconds("ten"), None);
        assert_eq!(parse_memory("256m"), Some(256 << 20));
        assert_eq!(parse_memory("268435456"), Some(268435456));
        assert_eq!(parse_memory("1000000000"), Some(1_000_000_000));
        assert_eq!(parse_memory("1g"), Some(1 << 30));
        assert_eq!(parse_memory("1Mi"), None);
        assert_eq!(parse_memory("99999999999999999t"), None);
        assert_eq!(cpu_millis("0.25"), Some(250));
        assert_eq!(cpu_millis("2"), Some(2000));
        assert_eq!(cpu_millis("2.05"), Some(2050));
        assert_eq!(cpu_millis("0.0001"), None);
        assert_eq!(parse_cpus("0.25"), Some(0.25));
        for millis in [1, 100, 250, 1000, 1500, 2050] {
            assert_eq!(cpu_millis(&cpus(millis)), Some(millis));
        }
        for bytes in [0, 3 << 10, 256 << 20, 1536 << 20, 1 << 30, 1_000_000_000] {
            assert_eq!(parse_memory(&memory(bytes)), Some(bytes));
        }
    }

    #[test]
    fn typed_values_serialize_as_their_spelling() {
        assert_eq!(Seconds(30).to_string(), "30s");
        assert_eq!(Cpus(250).to_string(), "0.25");
        assert_eq!(Cpus(250).as_f32(), 0.25);
        assert_eq!(Memory(256 << 20).to_string(), "256m");
        let port = PublishedPort {
            host_ip: "127.0.0.1".into(),
            host: 5433,
            container: 5432,
        };
        assert_eq!(port.to_string(), "127.0.0.1:5433:5432");
        assert_eq!(
            PublishedPort::parse("127.0.0.1:5433:5432"),
            Some(port.clone())
        );
        assert_eq!(PublishedPort::parse("5433:5432"), None);
        let json = serde_json::to_string(&(Seconds(10), Cpus(1500), Memory(1 << 30), port))
            .expect("serializes");
        assert_eq!(json, r#"["10s","1.5","1g","127.0.0.1:5433:5432"]"#);
    }
}
