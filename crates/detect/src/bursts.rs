//! Bursts: a series' volume rising faster than its season explains, with the reason attached.
//!
//! A series (a topic's hits, a story's items) is counted in buckets (an hour by default). Its
//! expected count per bucket is a seasonal baseline for the hour of week: an exponentially
//! decayed mean per hour of day times a decayed factor per day of week (a week has too few
//! buckets per hour-of-week slot to estimate each alone), falling back to the overall level while
//! the history is short. A bucket's count — and the sum of the last two, to catch a climb that is steady rather
//! than sudden — is tested against the baseline with the Poisson upper tail; a burst fires when
//! the tail probability is below the sensitivity's threshold and the count is clearly above the
//! expectation. Bursty buckets feed the baseline only up to what the baseline expected plus three
//! standard deviations, so a burst does not teach the baseline that bursts are normal.
//!
//! One burst fires once: while the series stays above its threshold the burst is ongoing, and a
//! new one can fire only after it ends.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How readily bursts fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Sensitivity {
    /// Only large, unmistakable rises.
    Low,
    /// The default.
    #[default]
    Balanced,
    /// Catch small rises, accept more false alarms.
    High,
}

impl Sensitivity {
    /// All levels, least sensitive first.
    pub const ALL: [Sensitivity; 3] = [Sensitivity::Low, Sensitivity::Balanced, Sensitivity::High];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Low => "low",
            Sensitivity::Balanced => "balanced",
            Sensitivity::High => "high",
        }
    }

    /// Parses a lower-case name.
    pub fn parse(s: &str) -> Option<Sensitivity> {
        Sensitivity::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// (tail probability below which a bucket is bursty, minimum count, minimum ratio to the
    /// expectation).
    fn thresholds(self) -> (f64, f64, f64) {
        match self {
            Sensitivity::Low => (1e-5, 8.0, 2.0),
            Sensitivity::Balanced => (3e-3, 5.0, 1.4),
            Sensitivity::High => (1e-2, 4.0, 1.25),
        }
    }
}

/// A date range with its own sensitivity (an anniversary, a big event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpecialPeriod {
    pub name: String,
    /// First day, inclusive (in the detector's zone).
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    pub sensitivity: Sensitivity,
}

/// Detector settings.
#[derive(Debug, Clone)]
pub struct BurstConfig {
    pub bucket: Duration,
    pub sensitivity: Sensitivity,
    pub special: Vec<SpecialPeriod>,
    /// Hours of week and days are those of this zone.
    pub zone: Tz,
    /// Weight of a new observation in an hour-of-day mean.
    pub slot_alpha: f64,
    /// Weight of a new day in its day-of-week factor (the first one sets it).
    pub weekday_alpha: f64,
    /// Weight of a new observation in the overall level.
    pub level_alpha: f64,
    /// Buckets of history before any burst may fire (a week: the season must be seen once).
    pub warmup: u32,
}

impl Default for BurstConfig {
    fn default() -> Self {
        BurstConfig {
            bucket: Duration::hours(1),
            sensitivity: Sensitivity::Balanced,
            special: Vec::new(),
            zone: chrono_tz::Asia::Shanghai,
            slot_alpha: 0.1,
            weekday_alpha: 0.5,
            level_alpha: 0.02,
            warmup: 168,
        }
    }
}

/// Why a burst fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Burst {
    /// Start of the window tested (one or two buckets).
    pub window_start: DateTime<Utc>,
    /// End of the window (exclusive).
    pub window_end: DateTime<Utc>,
    pub observed: f64,
    pub expected: f64,
    /// −log10 of the Poisson tail probability.
    pub score: f64,
    pub sensitivity: Sensitivity,
    /// The special period that set the sensitivity, if any.
    pub period: Option<String>,
}

/// The seasonal state of one series.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Series {
    /// Per local hour of day: decayed mean, observations.
    day: Vec<(f64, u32)>,
    /// Per day of week (Monday first): how that day's total compares with the hour-of-day
    /// means; days seen.
    weekday: Vec<(f64, u32)>,
    /// The local day being summed, its observed (clipped) and hour-of-day expected totals.
    day_key: Option<NaiveDate>,
    day_obs: f64,
    day_exp: f64,
    level: f64,
    seen: u32,
    /// Count of the previous bucket (for the two-bucket window).
    prev: Option<f64>,
    prev_expected: f64,
    in_burst: bool,
}

impl Default for Series {
    fn default() -> Self {
        Series {
            day: vec![(0.0, 0); 24],
            weekday: vec![(1.0, 0); 7],
            day_key: None,
            day_obs: 0.0,
            day_exp: 0.0,
            level: 0.0,
            seen: 0,
            prev: None,
            prev_expected: 0.0,
            in_burst: false,
        }
    }
}

impl Series {
    /// The expected count of the bucket starting at `at`.
    pub fn expected(&self, config: &BurstConfig, at: DateTime<Utc>) -> f64 {
        let local = at.with_timezone(&config.zone);
        let (d, n) = self.day[local.hour() as usize];
        if n >= 3 {
            d * self.weekday[local.weekday().num_days_from_monday() as usize].0
        } else {
            self.level
        }
    }

    /// Tests a bucket's count (and the two-bucket window ending with it) without learning:
    /// whether it is bursty, and the strongest burst it shows.
    fn evaluate(&self, config: &BurstConfig, at: DateTime<Utc>, count: f64) -> (bool, Option<Burst>, f64) {
        let expected = self.expected(config, at);
        let (sensitivity, period) = sensitivity_at(config, at);
        let (p_max, min_count, min_ratio) = sensitivity.thresholds();
        // A small floor: a quiet series should not fire on a handful of items.
        let lambda = expected.max(0.5);
        let mut best: Option<Burst> = None;
        let mut bursty = false;
        let single = (count, lambda, at);
        let windows =
            [Some(single), self.prev.map(|p| (p + count, lambda + self.prev_expected.max(0.5), at - config.bucket))];
        for (obs, exp, start) in windows.into_iter().flatten() {
            let p = poisson_tail(obs, exp);
            if p < p_max && obs >= min_count && obs >= min_ratio * exp {
                bursty = true;
                let score = -p.max(1e-300).log10();
                if best.as_ref().is_none_or(|b| score > b.score) {
                    best = Some(Burst {
                        window_start: start,
                        window_end: at + config.bucket,
                        observed: obs,
                        expected: (exp * 100.0).round() / 100.0,
                        score: (score * 100.0).round() / 100.0,
                        sensitivity,
                        period: period.clone(),
                    });
                }
            }
        }
        (bursty, best, expected)
    }

    /// Tests the open bucket starting at `at` with the count it has so far: a count that is
    /// already a burst fires now, without waiting for the bucket to close (which then does not
    /// fire it again). Learns nothing.
    pub fn check_open(&mut self, config: &BurstConfig, at: DateTime<Utc>, count_so_far: f64) -> Option<Burst> {
        if self.seen < config.warmup || self.in_burst {
            return None;
        }
        let (bursty, best, _) = self.evaluate(config, at, count_so_far);
        if bursty {
            self.in_burst = true;
            best
        } else {
            None
        }
    }

    /// Adds the count of the bucket starting at `at` (buckets in order, empty ones included) and
    /// returns a burst if one starts with it.
    pub fn observe(&mut self, config: &BurstConfig, at: DateTime<Utc>, count: f64) -> Option<Burst> {
        let (bursty, best, expected) = self.evaluate(config, at, count);
        let lambda = expected.max(0.5);
        let ready = self.seen >= config.warmup;
        let fired = if ready && bursty && !self.in_burst { best } else { None };
        if ready {
            self.in_burst = bursty || (self.in_burst && count > lambda + 2.0 * lambda.sqrt());
        }
        // Learn, with bursty counts clipped.
        let learned = count.min(lambda + 3.0 * lambda.sqrt());
        let local = at.with_timezone(&config.zone);
        let date = local.date_naive();
        if self.day_key != Some(date) {
            // A day ended: its total against the hour-of-day means sets its weekday's factor.
            if let Some(done) = self.day_key {
                if self.day_exp >= 3.0 {
                    let w = &mut self.weekday[done.weekday().num_days_from_monday() as usize];
                    let ratio = (self.day_obs / self.day_exp).clamp(0.1, 4.0);
                    w.0 = if w.1 == 0 {
                        ratio
                    } else {
                        config.weekday_alpha * ratio + (1.0 - config.weekday_alpha) * w.0
                    };
                    w.1 += 1;
                    // The factors of the days seen average 1, so that they and the hour-of-day
                    // means cannot drift apart (only their product is observed).
                    let seen: Vec<usize> = (0..7).filter(|&d| self.weekday[d].1 > 0).collect();
                    let mean = seen.iter().map(|&d| self.weekday[d].0).sum::<f64>() / seen.len() as f64;
                    if seen.len() == 7 && mean > 0.0 {
                        for d in seen {
                            self.weekday[d].0 /= mean;
                        }
                    }
                }
            }
            self.day_key = Some(date);
            self.day_obs = 0.0;
            self.day_exp = 0.0;
        }
        let dow = local.weekday().num_days_from_monday() as usize;
        let slot = &mut self.day[local.hour() as usize];
        if slot.1 >= 3 {
            self.day_obs += learned;
            self.day_exp += slot.0;
        }
        // The hour-of-day mean learns the count with the day's factor taken out.
        let deseasoned = learned / self.weekday[dow].0.max(0.1);
        slot.0 =
            if slot.1 == 0 { deseasoned } else { config.slot_alpha * deseasoned + (1.0 - config.slot_alpha) * slot.0 };
        slot.1 = slot.1.saturating_add(1);
        self.level = if self.seen == 0 {
            learned
        } else {
            config.level_alpha * learned + (1.0 - config.level_alpha) * self.level
        };
        self.seen = self.seen.saturating_add(1);
        self.prev = Some(count);
        self.prev_expected = expected;
        fired
    }

    /// Whether the series is inside a burst.
    pub fn in_burst(&self) -> bool {
        self.in_burst
    }
}

fn sensitivity_at(config: &BurstConfig, at: DateTime<Utc>) -> (Sensitivity, Option<String>) {
    let day = at.with_timezone(&config.zone).date_naive();
    match config.special.iter().find(|p| p.from <= day && day <= p.to) {
        Some(p) => (p.sensitivity, Some(p.name.clone())),
        None => (config.sensitivity, None),
    }
}

/// P(X ≥ k) for X ~ Poisson(λ), computed in log space (k need not be an integer: it is rounded
/// up).
pub fn poisson_tail(k: f64, lambda: f64) -> f64 {
    let k = k.ceil().max(0.0) as u64;
    if k == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    // Sum the terms from k upwards until they vanish; start from log P(X = k).
    let log_pk = k as f64 * lambda.ln() - lambda - ln_factorial(k);
    let mut term = 1.0f64;
    let mut sum = 1.0f64;
    let mut i = k;
    loop {
        i += 1;
        term *= lambda / i as f64;
        sum += term;
        if term < sum * 1e-15 || i > k + 10_000 {
            break;
        }
    }
    (log_pk + sum.ln()).exp().min(1.0)
}

fn ln_factorial(n: u64) -> f64 {
    if n < 20 {
        (2..=n).map(|i| (i as f64).ln()).sum()
    } else {
        // Stirling with the first correction terms.
        let x = n as f64;
        x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x) - 1.0 / (360.0 * x * x * x)
    }
}

/// The start of the bucket holding `at`.
pub fn bucket_start(config: &BurstConfig, at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = config.bucket.num_seconds().max(1);
    let t = at.timestamp();
    DateTime::from_timestamp(t - t.rem_euclid(secs), 0).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn an_open_bucket_fires_early_and_its_close_does_not_fire_again() {
        let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
        let config = BurstConfig::default();
        let mut s = Series::default();
        for h in 0..200 {
            s.observe(&config, start + Duration::hours(h), 3.0);
        }
        let t = start + Duration::hours(200);
        assert!(s.check_open(&config, t, 5.0).is_none());
        let b = s.check_open(&config, t, 25.0).expect("already a burst");
        assert_eq!(b.observed, 25.0);
        assert!(s.check_open(&config, t, 30.0).is_none());
        assert!(s.observe(&config, t, 40.0).is_none(), "fired already");
    }

    #[test]
    fn poisson_tail_matches_known_values() {
        // P(X >= 1 | 1) = 1 - e^-1
        assert!((poisson_tail(1.0, 1.0) - (1.0 - (-1f64).exp())).abs() < 1e-12);
        // P(X >= 10 | 2) = 4.65e-5 (tables)
        assert!((poisson_tail(10.0, 2.0) / 4.649e-5 - 1.0).abs() < 1e-3);
        assert_eq!(poisson_tail(0.0, 3.0), 1.0);
        assert!(poisson_tail(200.0, 10.0) < 1e-100);
        assert!(poisson_tail(5.0, 50.0) > 0.999);
    }

    #[test]
    fn a_burst_fires_once_with_its_explanation_and_a_special_period_changes_sensitivity() {
        let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap();
        let mut config = BurstConfig::default();
        let mut s = Series::default();
        for h in 0..200 {
            assert!(s.observe(&config, start + Duration::hours(h), 3.0).is_none());
        }
        let t = start + Duration::hours(200);
        let b = s.observe(&config, t, 30.0).expect("fires");
        assert_eq!((b.observed, b.window_end, b.sensitivity), (30.0, t + Duration::hours(1), Sensitivity::Balanced));
        assert!(b.expected > 2.5 && b.expected < 3.5 && b.score > 5.0, "{b:?}");
        assert!(s.observe(&config, t + Duration::hours(1), 35.0).is_none(), "ongoing, not a new burst");
        assert!(s.in_burst());
        for h in 2..6 {
            s.observe(&config, t + Duration::hours(h), 3.0);
        }
        assert!(!s.in_burst());
        // 9 against 3 is not enough for balanced, enough for high (set by a special period)
        let t2 = t + Duration::hours(6);
        let mut quiet = s.clone();
        assert!(quiet.observe(&config, t2, 9.0).is_none());
        let day = t2.with_timezone(&config.zone).date_naive();
        config
            .special
            .push(SpecialPeriod { name: "校庆".into(), from: day, to: day, sensitivity: Sensitivity::High });
        let b = s.observe(&config, t2, 9.0).expect("fires in the special period");
        assert_eq!((b.sensitivity, b.period.as_deref()), (Sensitivity::High, Some("校庆")));
    }
}
