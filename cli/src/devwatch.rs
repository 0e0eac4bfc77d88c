//! The pure part of `devstack dev`: which service a changed host path concerns and how
//! ([`classify`]), and the debounce that turns a burst of file events into one batch
//! ([`Debouncer`]).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use devstack_core::plan::StackPlan;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// What a changed path means for one service.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// A file under a sync source (not ignored): it reaches the container; `restart` when
    /// the sync asks for a restart.
    Synced {
        /// The service.
        service: String,
        /// Restart the container afterwards.
        restart: bool,
    },
    /// A file in the build context outside every sync source: the content tag may have
    /// changed (a lock file), so the image is rebuilt when it did.
    Context {
        /// The service.
        service: String,
    },
}

/// The matcher of a sync's ignore list, rooted at its source (unanchored, `.gitignore` style).
pub(crate) fn ignore_matcher(source: &Path, patterns: &[String]) -> Gitignore {
    let mut builder = GitignoreBuilder::new(source);
    for pattern in patterns {
        // A malformed pattern ignores nothing rather than stopping the loop.
        let _ = builder.add_line(None, pattern);
    }
    builder.build().unwrap_or_else(|_| Gitignore::empty())
}

/// What `path` (absolute) means for each active service of `plan`.
pub fn classify(plan: &StackPlan, path: &Path) -> Vec<Change> {
    let mut out = BTreeSet::new();
    for service in plan.active_services() {
        let mut in_sync = false;
        for sync in &service.sync {
            let source = Path::new(&sync.source);
            let Ok(relative) = path.strip_prefix(source) else {
                continue;
            };
            in_sync = true;
            let ignored = ignore_matcher(source, &sync.ignore)
                .matched_path_or_any_parents(relative, false)
                .is_ignore();
            if !ignored {
                out.insert(Change::Synced {
                    service: service.name.clone(),
                    restart: sync.restart,
                });
            }
        }
        let in_context = service
            .build
            .as_ref()
            .is_some_and(|b| path.starts_with(&b.context));
        if in_context && !in_sync {
            out.insert(Change::Context {
                service: service.name.clone(),
            });
        }
    }
    out.into_iter().collect()
}

/// Collects changed paths until none arrived for `quiet`.
#[derive(Debug)]
pub struct Debouncer {
    quiet: Duration,
    pending: BTreeSet<PathBuf>,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Debouncer {
    /// A debouncer that waits `quiet` after the last event.
    pub fn new(quiet: Duration) -> Debouncer {
        Debouncer {
            quiet,
            pending: BTreeSet::new(),
            first: None,
            last: None,
        }
    }

    /// Records a changed path at `now`.
    pub fn push(&mut self, path: PathBuf, now: Instant) {
        self.pending.insert(path);
        self.first.get_or_insert(now);
        self.last = Some(now);
    }

    /// The batch, once `quiet` passed since the last event, with the time of its first
    /// event (for the latency shown); `None` before.
    pub fn ready(&mut self, now: Instant) -> Option<(Vec<PathBuf>, Instant)> {
        let last = self.last?;
        if now.duration_since(last) < self.quiet {
            return None;
        }
        let first = self.first.take().unwrap_or(last);
        self.last = None;
        Some((
            std::mem::take(&mut self.pending).into_iter().collect(),
            first,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::plan::{plan, PlanOptions};
    use devstack_core::test_support::{manifest, stack_yaml};

    fn demo() -> StackPlan {
        let stack = stack_yaml(&manifest(
            "demo",
            "services:\n  api:\n    build: {context: ./app}\n    sync: [{source: ./app/src, target: /app/src, ignore: ['*.log', 'tmp/']}]\n  worker:\n    image: w:1\n    sync: [{source: ./app/src, target: /w, restart: true}]\n",
        ));
        let options = PlanOptions {
            base_dir: Some("/p".into()),
            ..PlanOptions::default()
        };
        plan(&stack, &options).unwrap()
    }

    #[test]
    fn a_path_is_synced_ignored_or_a_context_change() {
        let plan = demo();
        let synced = |service: &str, restart| Change::Synced {
            service: service.into(),
            restart,
        };
        assert_eq!(
            classify(&plan, Path::new("/p/app/src/main.py")),
            [synced("api", false), synced("worker", true)]
        );
        // Ignored for api (its list), synced for worker (no list); .git is always ignored.
        assert_eq!(
            classify(&plan, Path::new("/p/app/src/debug.log")),
            [synced("worker", true)]
        );
        assert_eq!(
            classify(&plan, Path::new("/p/app/src/tmp/x")),
            [synced("worker", true)]
        );
        assert_eq!(classify(&plan, Path::new("/p/app/src/.git/HEAD")), []);
        assert_eq!(
            classify(&plan, Path::new("/p/app/src/__pycache__/m.pyc")),
            []
        );
        assert_eq!(
            classify(&plan, Path::new("/p/app/requirements.lock")),
            [Change::Context {
                service: "api".into()
            }]
        );
        assert_eq!(classify(&plan, Path::new("/elsewhere/x")), []);
    }

    #[test]
    fn the_debouncer_waits_for_quiet_and_keeps_the_first_event_time() {
        let mut d = Debouncer::new(Duration::from_millis(50));
        let t0 = Instant::now();
        assert_eq!(d.ready(t0), None);
        d.push("/a".into(), t0);
        d.push("/b".into(), t0 + Duration::from_millis(30));
        d.push("/a".into(), t0 + Duration::from_millis(60));
        assert_eq!(d.ready(t0 + Duration::from_millis(100)), None);
        let (paths, first) = d.ready(t0 + Duration::from_millis(110)).unwrap();
        assert_eq!(paths, [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(first, t0);
        assert_eq!(d.ready(t0 + Duration::from_secs(1)), None);
    }
}
