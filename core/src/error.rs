//! Validation errors: every one names the field and says how to fix it.

use std::fmt;

/// One invalid field.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Path of the field, e.g. `spec.services.api.dependsOn[0]`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// All problems found in a spec (validation reports every problem, not only the first).
#[derive(Clone, Debug, PartialEq, Eq, Default, thiserror::Error, serde::Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl ValidationErrors {
    /// Records a problem.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs `check` with a fresh collector, keeps every problem it reports, and returns its
    /// result only when it reported none (a part with an error yields nothing to build on).
    pub fn scope<T>(
        &mut self,
        check: impl FnOnce(&mut ValidationErrors) -> Option<T>,
    ) -> Option<T> {
        let mut local = ValidationErrors::default();
        let out = check(&mut local);
        let clean = local.is_empty();
        self.0.extend(local.0);
        out.filter(|_| clean)
    }
}

/// `error` and each of its causes, joined by `: ` (each printed once): for messages that have
/// room for one line, such as a status condition or an Event.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        out.push_str(": ");
        out.push_str(&next.to_string());
        cause = next.source();
    }
    out
}

/// Longest text compared for a did-you-mean suggestion (a DNS label is at most 63).
const MAX_SUGGESTED_LEN: usize = 128;

/// The candidate closest to `wrong` by edit distance, if it is close enough to be a typo.
pub fn nearest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Names, keys and outputs are short; a longer "wrong" value is not a typo of one, and the
    // edit distance is quadratic (a 100 KB value made the fuzz target hang).
    if wrong.len() > MAX_SUGGESTED_LEN {
        return None;
    }
    let limit = (wrong.len() / 3).max(2);
    let candidates: Vec<&'a str> = candidates
        .into_iter()
        .filter(|c| c.len() <= MAX_SUGGESTED_LEN)
        .collect();
    let by_distance = candidates
        .iter()
        .map(|c| (levenshtein(wrong, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c);
    // Abbreviations ("pg" for "postgres") are too far by edit distance but obvious to a reader.
    by_distance.or_else(|| {
        let mut prefixed = candidates.iter().filter(|c| {
            // The first character, not the first byte: `wrong` may be any text.
            let first = wrong.chars().next();
            wrong.chars().count() >= 2
                && first.is_some_and(|f| c.starts_with(f))
                && is_subsequence(wrong, c)
        });
        match (prefixed.next(), prefixed.next()) {
            (Some(only), None) => Some(*only),
            _ => None,
        }
    })
}

fn is_subsequence(short: &str, long: &str) -> bool {
    let mut rest = long.chars();
    short.chars().all(|c| rest.any(|l| l == c))
}

/// ` (did you mean "x"?)` or nothing.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match nearest(wrong, candidates) {
        Some(c) => format!(" (did you mean {c:?}?)"),
        None => String::new(),
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_take_any_text_without_panicking() {
        // Found by the fuzz target: a first character of four bytes.
        assert_eq!(nearest("\u{10e96}.)<+", ["postgres", "redis"]), None);
        assert_eq!(nearest("é", ["é-db"]), None);
        assert_eq!(nearest("pg", ["postgres", "redis"]), Some("postgres"));
    }

    #[test]
    fn chain_prints_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("reading x.yaml")]
        struct Outer(#[source] std::io::Error);
        let error = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(chain(&error), "reading x.yaml: disk on fire");
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(nearest("pg", ["postgres", "redis"]), Some("postgres"));
        assert_eq!(nearest("pg", ["postgres", "pgvector"]), None);
        assert_eq!(nearest("postgre", ["postgres", "redis"]), Some("postgres"));
        assert_eq!(nearest("reddis", ["postgres", "redis"]), Some("redis"));
        assert_eq!(nearest("kafka", ["postgres", "redis"]), None);
    }
}
