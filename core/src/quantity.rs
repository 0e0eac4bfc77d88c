//! Kubernetes resource quantities, parsed into exact integers so both renderers (and parity)
//! compare numbers, not spellings.

/// A quantity that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Kubernetes quantity (examples: 250m, 0.5, 1, 256Mi, 1Gi)")]
pub struct QuantityError(pub String);

fn split_suffix(text: &str) -> (&str, &str) {
    let idx = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    text.split_at(idx)
}

/// Parses a decimal number as a fraction `(numerator, denominator = 10^k)`.
fn parse_decimal(number: &str) -> Option<(u128, u128)> {
    if number.is_empty() || number == "." {
        return None;
    }
    let (int, frac) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if frac.contains('.') || frac.len() > 9 || int.len() > 18 {
        return None;
    }
    let digits = format!("{int}{frac}");
    let numerator: u128 = digits.parse().ok()?;
    Some((numerator, 10u128.pow(frac.len() as u32)))
}

fn multiplier(suffix: &str) -> Option<(u128, u128)> {
    Some(match suffix {
        "" => (1, 1),
        "m" => (1, 1000),
        "k" => (1_000, 1),
        "M" => (1_000_000, 1),
        "G" => (1_000_000_000, 1),
        "T" => (1_000_000_000_000, 1),
        "P" => (1_000_000_000_000_000, 1),
        "Ki" => (1 << 10, 1),
        "Mi" => (1 << 20, 1),
        "Gi" => (1 << 30, 1),
        "Ti" => (1 << 40, 1),
        "Pi" => (1 << 50, 1),
        _ => return None,
    })
}

/// Value of `text` times `scale`, rounded up; `None` when it does not parse or overflows.
fn scaled(text: &str, scale: u128) -> Option<u64> {
    let trimmed = text.trim();
    let (number, suffix) = split_suffix(trimmed);
    let (num, den) = parse_decimal(number)?;
    let (mul, div) = multiplier(suffix)?;
    let top = num.checked_mul(mul)?.checked_mul(scale)?;
    let bottom = den.checked_mul(div)?;
    let value = top.div_ceil(bottom);
    u64::try_from(value).ok()
}

/// CPU in millicores: `250m` → 250, `1` → 1000, `0.5` → 500.
pub fn cpu_millis(text: &str) -> Result<u64, QuantityError> {
    scaled(text, 1000).ok_or_else(|| QuantityError(text.to_string()))
}

/// Memory or storage in bytes: `256Mi` → 268435456, `1G` → 1000000000.
pub fn bytes(text: &str) -> Result<u64, QuantityError> {
    scaled(text, 1).ok_or_else(|| QuantityError(text.to_string()))
}

/// Canonical Kubernetes spelling of millicores: `1` for 1000, `250m` for 250.
pub fn format_cpu(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{millis}m")
    }
}

/// `bytes` as `count × 1024^power` with the largest power (at most 4, tebibytes) that divides
/// exactly; power 0 when no binary unit divides. Both renderers spell sizes from this.
pub fn binary_unit(bytes: u64) -> (u64, usize) {
    for power in (1..=4usize).rev() {
        let unit = 1u64 << (10 * power);
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return (bytes / unit, power);
        }
    }
    (bytes, 0)
}

/// Canonical Kubernetes spelling of bytes with the largest exact binary suffix.
pub fn format_bytes(bytes: u64) -> String {
    let (count, power) = binary_unit(bytes);
    format!("{count}{}", ["", "Ki", "Mi", "Gi", "Ti"][power])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu() {
        assert_eq!(cpu_millis("250m"), Ok(250));
        assert_eq!(cpu_millis("1"), Ok(1000));
        assert_eq!(cpu_millis("0.5"), Ok(500));
        assert_eq!(cpu_millis("1.25"), Ok(1250));
        assert!(cpu_millis("one").is_err());
        assert!(cpu_millis("").is_err());
        assert!(cpu_millis("-1").is_err());
        assert!(cpu_millis("1.2.3").is_err());
    }

    #[test]
    fn parses_memory() {
        assert_eq!(bytes("256Mi"), Ok(256 << 20));
        assert_eq!(bytes("1Gi"), Ok(1 << 30));
        assert_eq!(bytes("1G"), Ok(1_000_000_000));
        assert_eq!(bytes("128974848"), Ok(128_974_848));
        assert!(bytes("12XB").is_err());
        assert!(bytes("99999999999999999999Pi").is_err());
    }

    #[test]
    fn formats_canonically() {
        assert_eq!(format_cpu(1000), "1");
        assert_eq!(format_cpu(250), "250m");
        assert_eq!(format_bytes(256 << 20), "256Mi");
        assert_eq!(format_bytes(1 << 30), "1Gi");
        assert_eq!(format_bytes(1_000_000_000), "1000000000");
    }
}
