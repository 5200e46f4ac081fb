//! Progress display: a bar with rate and time left on a terminal, plain lines otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Reports progress of a long-running command on standard error.
pub(crate) struct Reporter {
    bar: Option<ProgressBar>,
    last_line: Instant,
    every: Duration,
}

impl Reporter {
    /// A reporter for work of `total` bytes (or unknown).
    pub(crate) fn new(total: Option<u64>, what: &str) -> Reporter {
        if std::io::stderr().is_terminal() {
            let bar = match total {
                Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
                None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            };
            let style = if total.is_some() {
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
                )
            } else {
                ProgressStyle::with_template("{prefix} {spinner} {bytes} {binary_bytes_per_sec} {msg}")
            }
            .expect("valid template")
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            Reporter { bar: Some(bar), last_line: Instant::now(), every: Duration::ZERO }
        } else {
            Reporter { bar: None, last_line: Instant::now() - Duration::from_secs(3600), every: Duration::ZERO }
        }
    }

    /// Updates the position and message; off a terminal, prints `line` as a plain line.
    pub(crate) fn update(&mut self, pos: u64, msg: String, line: impl FnOnce() -> String) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(pos);
                bar.set_message(msg);
            }
            None => {
                if self.last_line.elapsed() >= self.every {
                    eprintln!("{}", line());
                    self.last_line = Instant::now();
                }
            }
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
