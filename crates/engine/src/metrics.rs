//! What the running process has done, as counters and per-stage time, for an operator
//! (`GET /metrics`, Prometheus' text format) and for `tidewatch bench`.
//!
//! Everything is a relaxed atomic in one static, [`METRICS`]: a counter costs one `fetch_add`,
//! so the pipeline counts on its hot path without a lock. Stage time is a histogram per stage:
//! the parallel prepare steps (`prepare_*`) are observed once per item with its thread time, the
//! other stages once per batch with the wall time the batch spent there; either way `sum / items`
//! is the per-item budget ADR 0014 keeps.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A monotonically increasing count.
#[derive(Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    /// The count so far.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// Upper bounds of the histogram buckets, in seconds: one item's prepare step takes 5–100 µs, a
/// batch of 2,000 items 10–500 ms per stage.
pub const BUCKETS: [f64; 20] = [
    0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Durations in buckets, with their sum and count.
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    sum_ns: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    const fn new() -> Histogram {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS.len()],
            sum_ns: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.sum_ns.fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    /// Total time observed.
    pub fn sum(&self) -> Duration {
        Duration::from_nanos(self.sum_ns.load(Relaxed))
    }

    /// How many durations were observed.
    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }
}

/// The stages of an item's way in, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Parsing rows of a file or request into inputs.
    Parse,
    /// Normalize, language, URL, segment, fingerprint, index tokens (per item, thread time).
    PrepareText,
    /// Topic rules (per item, thread time).
    PrepareTopics,
    /// Sentiment (per item, thread time).
    PrepareSentiment,
    /// Story terms (per item, thread time).
    PrepareTerms,
    /// The whole parallel prepare of a batch (wall time).
    Prepare,
    /// Write thread: the idempotency lookup.
    WriteLookup,
    /// Write thread: duplicate group and the item's rows.
    WriteInsert,
    /// Write thread: topic-hit rows.
    WriteHits,
    /// Write thread: story placement, burst series, signals and their rows.
    WriteAnalysis,
    /// Write thread: the rows of the stories the batch changed (and the burst series, every few
    /// seconds).
    WriteStories,
    /// Write thread: the SQLite commit (the moment items are acknowledged).
    Commit,
    /// Write thread: handing the new items to the search index.
    Index,
    /// Committing the search index.
    IndexCommit,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 14] = [
        Stage::Parse,
        Stage::PrepareText,
        Stage::PrepareTopics,
        Stage::PrepareSentiment,
        Stage::PrepareTerms,
        Stage::Prepare,
        Stage::WriteLookup,
        Stage::WriteInsert,
        Stage::WriteHits,
        Stage::WriteAnalysis,
        Stage::WriteStories,
        Stage::Commit,
        Stage::Index,
        Stage::IndexCommit,
    ];

    /// Its label value.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::PrepareText => "prepare_text",
            Stage::PrepareTopics => "prepare_topics",
            Stage::PrepareSentiment => "prepare_sentiment",
            Stage::PrepareTerms => "prepare_terms",
            Stage::Prepare => "prepare",
            Stage::WriteLookup => "write_lookup",
            Stage::WriteInsert => "write_insert",
            Stage::WriteHits => "write_hits",
            Stage::WriteAnalysis => "write_analysis",
            Stage::WriteStories => "write_stories",
            Stage::Commit => "commit",
            Stage::Index => "index",
            Stage::IndexCommit => "index_commit",
        }
    }

    /// Whether its time is summed over threads (it runs on all cores) rather than wall time.
    pub fn is_thread_time(self) -> bool {
        matches!(self, Stage::PrepareText | Stage::PrepareTopics | Stage::PrepareSentiment | Stage::PrepareTerms)
    }
}

/// The process's counters and stage histograms.
#[derive(Debug)]
pub struct Metrics {
    /// Inputs handed to the pipeline.
    pub items_received: Counter,
    /// Items stored (acknowledged).
    pub items_stored: Counter,
    /// Inputs refused by the text pipeline.
    pub items_rejected: Counter,
    /// Inputs whose key was already stored.
    pub items_resubmitted: Counter,
    /// Stored items that joined an existing duplicate group.
    pub duplicates_found: Counter,
    /// Topic hits stored with their items.
    pub topic_hits_stored: Counter,
    /// Signals raised by the analysis (topic hits, bursts, rising stories, sentiment shifts).
    pub signals_raised: Counter,
    /// Alerts opened from signals.
    pub alerts_raised: Counter,
    /// Notifications delivered.
    pub notifications_sent: Counter,
    /// Notifications given up on.
    pub notifications_failed: Counter,
    /// Batches written.
    pub batches_written: Counter,
    stages: [Histogram; Stage::ALL.len()],
}

/// The one set of metrics of the process.
pub static METRICS: Metrics = Metrics::new();

/// A value read when the metrics are rendered (a queue's depth, a pending count).
#[derive(Debug, Clone)]
pub struct Gauge {
    /// Full metric name.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// Its value now.
    pub value: f64,
}

impl Metrics {
    const fn new() -> Metrics {
        Metrics {
            items_received: Counter::new(),
            items_stored: Counter::new(),
            items_rejected: Counter::new(),
            items_resubmitted: Counter::new(),
            duplicates_found: Counter::new(),
            topic_hits_stored: Counter::new(),
            signals_raised: Counter::new(),
            alerts_raised: Counter::new(),
            notifications_sent: Counter::new(),
            notifications_failed: Counter::new(),
            batches_written: Counter::new(),
            stages: [const { Histogram::new() }; Stage::ALL.len()],
        }
    }

    /// The histogram of a stage.
    pub fn stage(&self, stage: Stage) -> &Histogram {
        &self.stages[Stage::ALL.iter().position(|&s| s == stage).expect("every stage is listed")]
    }

    /// Adds a duration to a stage.
    pub fn observe(&self, stage: Stage, d: Duration) {
        self.stage(stage).observe(d);
    }

    fn counters(&self) -> [(&'static str, &'static str, &Counter); 11] {
        [
            ("tidewatch_items_received_total", "Inputs handed to the pipeline.", &self.items_received),
            ("tidewatch_items_stored_total", "Items stored durably (acknowledged).", &self.items_stored),
            ("tidewatch_items_rejected_total", "Inputs refused by the text pipeline.", &self.items_rejected),
            ("tidewatch_items_resubmitted_total", "Inputs whose key was already stored.", &self.items_resubmitted),
            (
                "tidewatch_duplicates_found_total",
                "Stored items that joined an existing duplicate group.",
                &self.duplicates_found,
            ),
            ("tidewatch_topic_hits_stored_total", "Topic hits stored with their items.", &self.topic_hits_stored),
            ("tidewatch_signals_raised_total", "Signals raised by the analysis.", &self.signals_raised),
            ("tidewatch_alerts_raised_total", "Alerts opened from signals.", &self.alerts_raised),
            ("tidewatch_notifications_sent_total", "Notifications delivered.", &self.notifications_sent),
            (
                "tidewatch_notifications_failed_total",
                "Notifications given up on after their last attempt.",
                &self.notifications_failed,
            ),
            (
                "tidewatch_batches_written_total",
                "Batches written by the pipeline's write stage.",
                &self.batches_written,
            ),
        ]
    }

    /// The metrics in Prometheus' text exposition format (version 0.0.4), with `gauges` after them.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let mut out = String::new();
        for (name, help, c) in self.counters() {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", c.get());
        }
        let name = "tidewatch_stage_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time in each pipeline stage: per item for the prepare_* steps (thread time), per batch for the rest.\n# TYPE {name} histogram"
        );
        for stage in Stage::ALL {
            let h = self.stage(stage);
            let label = stage.name();
            let mut cumulative = 0;
            for (i, b) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[i].load(Relaxed);
                let _ = writeln!(out, "{name}_bucket{{stage=\"{label}\",le=\"{b}\"}} {cumulative}");
            }
            let _ = writeln!(out, "{name}_bucket{{stage=\"{label}\",le=\"+Inf\"}} {}", h.count());
            let _ = writeln!(out, "{name}_sum{{stage=\"{label}\"}} {}", h.sum().as_secs_f64());
            let _ = writeln!(out, "{name}_count{{stage=\"{label}\"}} {}", h.count());
        }
        for g in gauges {
            let _ = writeln!(out, "# HELP {} {}\n# TYPE {} gauge\n{} {}", g.name, g.help, g.name, g.name, g.value);
        }
        out
    }

    /// What each stage has taken so far, for taking differences around a run.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            stored: self.items_stored.get(),
            received: self.items_received.get(),
            stage_ns: Stage::ALL.map(|s| self.stage(s).sum().as_nanos() as u64),
        }
    }
}

/// Counts and stage sums at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    /// Items stored.
    pub stored: u64,
    /// Inputs received.
    pub received: u64,
    /// Nanoseconds per stage, in [`Stage::ALL`] order.
    pub stage_ns: [u64; Stage::ALL.len()],
}

impl Snapshot {
    /// Microseconds per received input in each stage between `earlier` and this snapshot.
    pub fn per_item_since(&self, earlier: &Snapshot) -> Vec<(Stage, f64)> {
        let n = (self.received - earlier.received).max(1) as f64;
        Stage::ALL
            .iter()
            .enumerate()
            .map(|(i, &s)| (s, (self.stage_ns[i] - earlier.stage_ns[i]) as f64 / 1000.0 / n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_the_text_format_parses() {
        let m = Metrics::new();
        m.items_stored.add(3);
        m.observe(Stage::Commit, Duration::from_millis(3));
        m.observe(Stage::Commit, Duration::from_millis(30));
        m.observe(Stage::Commit, Duration::from_secs(60));
        let text = m.render(&[Gauge { name: "tidewatch_index_pending_docs", help: "x", value: 7.0 }]);
        assert!(text.contains("tidewatch_items_stored_total 3\n"), "{text}");
        assert!(text.contains("tidewatch_stage_duration_seconds_bucket{stage=\"commit\",le=\"0.005\"} 1\n"), "{text}");
        assert!(text.contains("tidewatch_stage_duration_seconds_bucket{stage=\"commit\",le=\"0.05\"} 2\n"), "{text}");
        // Beyond the last bucket: only in +Inf.
        assert!(text.contains("tidewatch_stage_duration_seconds_bucket{stage=\"commit\",le=\"10\"} 2\n"), "{text}");
        assert!(text.contains("tidewatch_stage_duration_seconds_bucket{stage=\"commit\",le=\"+Inf\"} 3\n"), "{text}");
        assert!(text.contains("tidewatch_stage_duration_seconds_count{stage=\"commit\"} 3\n"), "{text}");
        assert!(text.contains("tidewatch_index_pending_docs 7\n"), "{text}");
        // Every sample line is `name{labels} value` with a number.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').expect(line);
            assert!(name.starts_with("tidewatch_"), "{line}");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
