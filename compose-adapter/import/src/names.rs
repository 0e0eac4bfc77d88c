//! Compose service names → DevStack service names (DNS labels): lowercase, `_` and `.` become
//! `-`, anything else that is not a letter, digit or `-` is removed; a name that must change is
//! reported, and a collision gets a numeric suffix.

use std::collections::BTreeMap;

use crate::loss::LossReport;

/// The DNS label for every Compose service name.
#[derive(Clone, Debug, Default)]
pub struct Names {
    map: BTreeMap<String, String>,
}

impl Names {
    /// Names for `services`, reporting each one that changes.
    pub fn new<'a>(services: impl Iterator<Item = &'a String>, report: &mut LossReport) -> Self {
        let mut map = BTreeMap::new();
        let mut taken: Vec<String> = Vec::new();
        for name in services {
            let base = label(name);
            let mut candidate = base.clone();
            let mut n = 2;
            while taken.contains(&candidate) {
                candidate = format!("{}-{n}", base.chars().take(60).collect::<String>());
                n += 1;
            }
            if &candidate != name {
                report.changed(
                    name,
                    "name",
                    &format!("renamed to {candidate}: service names are DNS labels"),
                    "programs that reach it by its old name must use the new one",
                );
            }
            taken.push(candidate.clone());
            map.insert(name.clone(), candidate);
        }
        Names { map }
    }

    /// The DevStack name of Compose service `name` (itself, made a label, when unknown).
    pub fn get(&self, name: &str) -> String {
        self.map.get(name).cloned().unwrap_or_else(|| label(name))
    }
}

/// `name` as a DNS label (at most 63 characters, starting with a letter).
pub fn label(name: &str) -> String {
    let mut out: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c == '_' || c == '.' { '-' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let mut out = out.trim_matches('-').to_string();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out = format!("s-{out}");
    }
    out.truncate(63);
    out.trim_end_matches('-').to_string()
}
