//! Progress of an `up`, per service: a live view (indicatif) on a terminal, one plain line per
//! step otherwise (CI logs, pipes).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Where progress goes.
pub struct Progress {
    started: Instant,
    bars: Option<BTreeMap<String, ProgressBar>>,
    _multi: Option<MultiProgress>,
    finished: AtomicBool,
}

impl Progress {
    /// A live view of `services` on standard error when it is a terminal, plain lines
    /// otherwise.
    pub fn new<'a>(services: impl IntoIterator<Item = &'a String>) -> Progress {
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        if !tty {
            return Progress::plain();
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {prefix:<16} {wide_msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = services
            .into_iter()
            .map(|name| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(name.clone());
                bar.set_message("waiting");
                bar.enable_steady_tick(Duration::from_millis(120));
                (name.clone(), bar)
            })
            .collect();
        Progress {
            started: Instant::now(),
            bars: Some(bars),
            _multi: Some(multi),
            finished: AtomicBool::new(false),
        }
    }

    /// Plain lines only (also what a non-terminal gets).
    pub fn plain() -> Progress {
        Progress {
            started: Instant::now(),
            bars: None,
            _multi: None,
            finished: AtomicBool::new(false),
        }
    }

    /// `service` moved on to `step`.
    pub fn step(&self, service: &str, step: &str) {
        match self.bars.as_ref().and_then(|b| b.get(service)) {
            Some(bar) => bar.set_message(step.to_string()),
            None => eprintln!(
                "[{:>6.1}s] {service}: {step}",
                self.started.elapsed().as_secs_f64()
            ),
        }
    }

    /// `service` is done with `outcome`.
    pub fn done(&self, service: &str, outcome: &str) {
        match self.bars.as_ref().and_then(|b| b.get(service)) {
            Some(bar) => bar.finish_with_message(outcome.to_string()),
            None => self.step(service, outcome),
        }
    }

    /// A stack-wide note (networks, volumes, images).
    pub fn note(&self, message: &str) {
        match &self._multi {
            Some(multi) => {
                let _ = multi.println(message);
            }
            None => eprintln!("[{:>6.1}s] {message}", self.started.elapsed().as_secs_f64()),
        }
    }

    /// Stops every live line (before printing an error or the summary).
    pub fn finish(&self) {
        if self.finished.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(bars) = &self.bars {
            for bar in bars.values() {
                if !bar.is_finished() {
                    bar.abandon();
                }
            }
            // The live view leaves the cursor at the end of its last line.
            eprintln!();
        }
    }
}
