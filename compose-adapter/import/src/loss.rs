//! The loss report: every Compose key the import did not carry over unchanged, per service,
//! with what happened to it and what the user can do instead. Nothing is dropped silently: the
//! mapping code records a [`Loss`] for each key it does not map exactly, and the key of every
//! loss names the Compose key, so `devstack import --check` can tell an explained difference
//! from an unexplained one.

use serde::Serialize;

/// What happened to a Compose key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum LossKind {
    /// No DevStack meaning: left out of the stack.
    Dropped,
    /// Carried over with a different meaning or value (said how in the detail).
    Changed,
}

impl LossKind {
    /// The short label of the report's KIND column.
    pub fn label(&self) -> String {
        match self {
            LossKind::Dropped => "dropped".to_string(),
            LossKind::Changed => "changed".to_string(),
        }
    }
}

/// One key that did not survive unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Loss {
    /// The service (its Compose name), or `None` for a project-level key.
    pub service: Option<String>,
    /// The Compose key, dotted (`environment.POSTGRES_PASSWORD`, `ports`, `privileged`).
    pub key: String,
    /// What happened.
    #[serde(flatten)]
    pub kind: LossKind,
    /// What the import did and why.
    pub detail: String,
    /// What the user can do instead.
    pub instead: String,
}

/// Every loss of one import, in the order the mapping found them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LossReport {
    /// The losses.
    pub losses: Vec<Loss>,
}

impl LossReport {
    /// Records a loss.
    pub fn add(
        &mut self,
        service: Option<&str>,
        key: impl Into<String>,
        kind: LossKind,
        detail: impl Into<String>,
        instead: impl Into<String>,
    ) {
        self.losses.push(Loss {
            service: service.map(str::to_string),
            key: key.into(),
            kind,
            detail: detail.into(),
            instead: instead.into(),
        });
    }

    /// A key with no DevStack meaning.
    pub fn dropped(&mut self, service: &str, key: &str, detail: &str, instead: &str) {
        self.add(Some(service), key, LossKind::Dropped, detail, instead);
    }

    /// A key carried over differently.
    pub fn changed(&mut self, service: &str, key: &str, detail: &str, instead: &str) {
        self.add(Some(service), key, LossKind::Changed, detail, instead);
    }

    /// Whether nothing was lost.
    pub fn is_empty(&self) -> bool {
        self.losses.is_empty()
    }

    /// The losses of `service` whose key is `key` or starts with `key.`.
    pub fn about<'a>(&'a self, service: &'a str, key: &'a str) -> impl Iterator<Item = &'a Loss> {
        self.losses.iter().filter(move |l| {
            l.service.as_deref() == Some(service)
                && (l.key == key || l.key.starts_with(&format!("{key}.")))
        })
    }

    /// The report as an aligned table (SERVICE KEY KIND DETAIL INSTEAD), one loss a line.
    pub fn table(&self) -> String {
        if self.losses.is_empty() {
            return "nothing lost: every Compose key has a DevStack meaning\n".to_string();
        }
        let rows: Vec<[String; 5]> = self
            .losses
            .iter()
            .map(|l| {
                [
                    l.service.clone().unwrap_or_else(|| "*".to_string()),
                    l.key.clone(),
                    l.kind.label(),
                    l.detail.clone(),
                    l.instead.clone(),
                ]
            })
            .collect();
        let header = ["SERVICE", "KEY", "KIND", "DETAIL", "INSTEAD"];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, c) in widths.iter_mut().zip(row.iter()).take(3) {
                *w = (*w).max(c.len());
            }
        }
        let line = |cells: [&str; 5]| {
            let text = format!(
                "{:<a$}  {:<b$}  {:<c$}  {}  ({})",
                cells[0],
                cells[1],
                cells[2],
                cells[3],
                cells[4],
                a = widths[0],
                b = widths[1],
                c = widths[2],
            );
            format!("{}\n", text.trim_end())
        };
        let mut out = line(header);
        for row in &rows {
            out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
        }
        out.push_str(&format!(
            "\n{} keys not carried over unchanged\n",
            rows.len()
        ));
        out
    }
}
