//! Bursts on synthetic 30-day seasonal streams with injected bursts: detection delay per burst
//! and false alarms per simulated day at each sensitivity (printed; run with --nocapture), for
//! clear bursts (every one must be caught within two buckets at balanced) and weak ones (where
//! detection ends).
//!
//! Delay counts buckets after the burst's first bucket: 0 means caught in its first bucket, 1 in
//! its second ("within two buckets"). An alarm outside every burst (and the two buckets after
//! it) is false.

use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use tidewatch_detect::bursts::{BurstConfig, Sensitivity, Series};

struct Rng(u64);

impl Rng {
    fn seeded(seed: u64) -> Rng {
        // splitmix64, so that small seeds start well mixed
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn poisson(&mut self, lambda: f64) -> f64 {
        // Inverse transform (λ here stays below ~100).
        let u = self.next();
        let (mut k, mut p) = (0u32, (-lambda).exp());
        let mut cdf = p;
        while u > cdf && k < 10_000 {
            k += 1;
            p *= lambda / k as f64;
            cdf += p;
        }
        k as f64
    }
}

/// Items per hour of an ordinary day: quiet at night, busiest in the afternoon, quieter at
/// weekends.
fn seasonal(t: DateTime<Utc>, zone: Tz) -> f64 {
    let local = t.with_timezone(&zone);
    let h = local.hour() as f64;
    let daily = 1.0
        + 0.9 * (std::f64::consts::TAU * (h - 9.0) / 24.0).sin()
        + 0.3 * (std::f64::consts::TAU * (h - 12.0) / 12.0).cos();
    let weekend = if chrono::Datelike::weekday(&local).num_days_from_monday() >= 5 { 0.6 } else { 1.0 };
    (4.0 * daily * weekend).max(0.2)
}

struct Injected {
    start: usize,
    len: usize,
    extra: f64,
}

const HOURS: usize = 30 * 24;

/// Nine bursts after the first week, at different hours (UTC; Shanghai is 8 hours ahead), 3 to 6
/// hours long, the first hour carrying 60% of the rise. `weak`: volume 3 to 6 times the usual and
/// at least 8 extra items an hour; otherwise (clear bursts) 4 to 6 times and at least 12 extra.
fn injected(start: DateTime<Utc>, zone: Tz, weak: bool) -> Vec<Injected> {
    [
        (8, 2, 4, 4.0),
        (10, 18, 3, 3.0),
        (12, 7, 5, 3.0),
        (15, 13, 6, 3.5),
        (18, 3, 3, 3.0),
        (20, 4, 4, 6.0),
        (23, 0, 5, 3.0),
        (26, 11, 3, 4.0),
        (28, 17, 4, 3.0),
    ]
    .iter()
    .map(|&(day, hour, len, times)| {
        let at = start + Duration::hours((day * 24 + hour) as i64);
        let (times, min_extra) = if weak { (times, 8.0) } else { (f64::max(times, 4.0), 12.0) };
        Injected { start: day * 24 + hour, len, extra: ((times - 1.0) * seasonal(at, zone)).max(min_extra) }
    })
    .collect()
}

fn stream(seed: u64, start: DateTime<Utc>, zone: Tz, bursts: &[Injected]) -> Vec<f64> {
    let mut rng = Rng::seeded(seed);
    (0..HOURS)
        .map(|h| {
            let t = start + Duration::hours(h as i64);
            let mut lambda = seasonal(t, zone);
            for b in bursts {
                if (b.start..b.start + b.len).contains(&h) {
                    lambda += if h == b.start { b.extra * 0.6 } else { b.extra };
                }
            }
            rng.poisson(lambda)
        })
        .collect()
}

/// Per burst its delay (None: missed), the number of false alarms, and the baseline's mean and
/// mean absolute error relative to the true rate (outside bursts, after the first week).
fn run(
    level: Sensitivity,
    start: DateTime<Utc>,
    counts: &[f64],
    bursts: &[Injected],
) -> (Vec<Option<usize>>, usize, f64, f64) {
    let config = BurstConfig { sensitivity: level, ..BurstConfig::default() };
    let mut series = Series::default();
    let mut fired = Vec::new();
    let (mut exp_sum, mut true_sum, mut abs_err) = (0.0, 0.0, 0.0);
    for (h, &c) in counts.iter().enumerate() {
        let t = start + Duration::hours(h as i64);
        if h >= 7 * 24 && !bursts.iter().any(|b| h >= b.start && h < b.start + b.len + 24) {
            let e = series.expected(&config, t);
            let truth = seasonal(t, chrono_tz::Asia::Shanghai);
            exp_sum += e;
            true_sum += truth;
            abs_err += (e - truth).abs();
        }
        if series.observe(&config, t, c).is_some() {
            fired.push(h);
        }
    }

    let near = |f: usize, b: &Injected| f >= b.start && f < b.start + b.len + 2;
    let delays = bursts.iter().map(|b| fired.iter().find(|&&f| near(f, b)).map(|f| f - b.start)).collect();
    let false_alarms = fired.iter().filter(|&&f| !bursts.iter().any(|b| near(f, b))).count();
    (delays, false_alarms, exp_sum / true_sum, abs_err / true_sum)
}

/// Runs every sensitivity over seeds 1–10; prints per seed and a summary; returns per level
/// (caught within two buckets, caught, bursts, false alarms per day).
fn evaluate(weak: bool) -> Vec<(Sensitivity, usize, usize, usize, f64)> {
    let zone = chrono_tz::Asia::Shanghai;
    let start = Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap();
    let bursts = injected(start, zone, weak);
    let seeds: Vec<u64> = (1..=10).collect();
    let kind = if weak { "weak (3-6x, at least +8 an hour)" } else { "clear (4-6x, at least +12 an hour)" };
    println!(
        "\n{kind} bursts: {HOURS} hourly buckets (30 days) per stream, {} injected bursts, seeds 1-10",
        bursts.len()
    );
    println!(
        "{:<9} {:>5} {:>26} {:>14} {:>16}",
        "level", "seed", "delay per burst (buckets)", "within two", "false alarms/day"
    );
    let mut summary = Vec::new();
    for level in Sensitivity::ALL {
        let (mut within, mut caught, mut total, mut false_total) = (0, 0, 0, 0);
        for &seed in &seeds {
            let counts = stream(seed, start, zone, &bursts);
            let (delays, false_alarms, bias, mae) = run(level, start, &counts, &bursts);
            let ok = delays.iter().filter(|d| d.is_some_and(|d| d <= 1)).count();
            within += ok;
            caught += delays.iter().filter(|d| d.is_some()).count();
            total += delays.len();
            false_total += false_alarms;
            let shown: Vec<String> = delays.iter().map(|d| d.map_or("-".to_string(), |d| d.to_string())).collect();
            println!(
                "{:<9} {:>5} {:>26} {:>11}/{:<2} {:>9.3} ({false_alarms})   baseline/truth {bias:.2}, error {mae:.2}",
                level.as_str(),
                seed,
                shown.join(" "),
                ok,
                delays.len(),
                false_alarms as f64 / 30.0
            );
        }
        let per_day = false_total as f64 / (30.0 * seeds.len() as f64);
        summary.push((level, within, caught, total, per_day));
    }
    println!("{kind}:");
    println!("{:<9} {:>22} {:>10} {:>22}", "level", "caught within two", "caught", "false alarms per day");
    for (level, within, caught, total, per_day) in &summary {
        let pct = 100.0 * *within as f64 / *total as f64;
        println!(
            "{:<9} {:>14}/{:<3} ({pct:>3.0}%) {:>7}/{:<3} {:>20.3}",
            level.as_str(),
            within,
            total,
            caught,
            total,
            per_day
        );
    }
    summary
}

#[test]
fn clear_bursts_are_all_caught_within_two_buckets_with_few_false_alarms() {
    let summary = evaluate(false);
    let (_, within, _, total, per_day) = summary[1];
    assert_eq!(within, total, "balanced: every clear burst caught within two buckets");
    assert!(per_day < 1.0 / 7.0, "balanced: {per_day:.3} false alarms per day");
}

#[test]
fn weak_bursts_show_where_detection_ends() {
    // 3x on a series of about 4 items an hour is at the edge of what any test can see within two
    // hours at under one false alarm a week: even with the true baseline, the weakest burst here
    // (+8 an hour on 4) is caught by the second hour only about 85% of the time.
    let summary = evaluate(true);
    let (_, within, caught, total, per_day) = summary[1];
    assert!(within as f64 >= 0.9 * total as f64, "balanced: only {within} of {total} weak bursts within two buckets");
    assert!(caught as f64 >= 0.95 * total as f64, "balanced: only {caught} of {total} weak bursts caught");
    assert!(per_day < 1.0 / 7.0, "balanced: {per_day:.3} false alarms per day");
}
