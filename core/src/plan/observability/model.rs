//! The observability part of the plan: metrics endpoints, scrape edges and generated files.

use serde::Serialize;

use crate::plan::NamedPort;

/// Default seconds between two scrapes.
pub const DEFAULT_SCRAPE_INTERVAL_SECONDS: u32 = 15;

/// A metrics endpoint of a service, scraped by the stack's prometheus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsPlan {
    /// Scrape job name (`<service>` or `<service>-<suffix>`).
    pub job: String,
    /// The port that serves it.
    pub port: NamedPort,
    /// HTTP path.
    pub path: String,
}

/// A scrape edge of the reachability graph: `scraper` (a prometheus) may open connections to
/// `target` on `port` only (a NetworkPolicy rule in Kubernetes, a network in Compose).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ScrapeEdge {
    /// The prometheus service.
    pub scraper: String,
    /// The scraped service.
    pub target: String,
    /// The target's metrics port.
    pub port: u16,
}

/// Stack-wide observability: the scrape interval and the scrape edges.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservabilityPlan {
    /// Seconds between two scrapes of each target.
    pub scrape_interval_seconds: u32,
    /// Every scrape edge between active services, sorted.
    pub scrapes: Vec<ScrapeEdge>,
}

impl ObservabilityPlan {
    /// The scrape edges into `target`.
    pub fn scrapers_of<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a ScrapeEdge> {
        self.scrapes.iter().filter(move |e| e.target == target)
    }

    /// The scrape edges out of `scraper`.
    pub fn targets_of<'a>(&'a self, scraper: &'a str) -> impl Iterator<Item = &'a ScrapeEdge> {
        self.scrapes.iter().filter(move |e| e.scraper == scraper)
    }
}

/// A config file devstack generates for a service: the same bytes and mode in both runtimes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GeneratedFile {
    /// Absolute path in the container.
    pub path: String,
    /// Content.
    pub content: String,
    /// File mode (octal `0o644`).
    pub mode: u32,
}

impl GeneratedFile {
    pub(super) fn new(path: &str, content: String) -> Self {
        GeneratedFile {
            path: path.to_string(),
            content,
            mode: 0o644,
        }
    }
}
