//! Publication times as sources write them.
//!
//! Accepted, in this order: RFC 3339 (`2024-03-05T10:20:00+08:00`, also with a space instead of
//! `T`), RFC 2822 (`Tue, 05 Mar 2024 10:20:00 +0800`), times without a zone (`2024-03-05 10:20`,
//! `2024/03/05 10:20:00`, `2024.03.05`, `2024年3月5日 10:20`, a date alone) which are read in
//! the default zone (Asia/Shanghai), and Unix timestamps in seconds (10 digits) or milliseconds
//! (13 digits). Years outside 1990–2100 are refused as implausible.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The zone in which times written without one are read.
pub const DEFAULT_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// Parses a publication time; the error says what was wrong.
pub fn parse_datetime(raw: &str) -> Result<DateTime<Utc>, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("the date is empty".into());
    }
    let dt = parse_inner(s).ok_or_else(|| {
        format!("cannot read {:?} as a date (expected RFC 3339 such as 2024-03-05T10:20:00+08:00, RFC 2822, YYYY-MM-DD [HH:MM[:SS]], or a Unix timestamp)", shorten(s))
    })?;
    let year = dt.format("%Y").to_string().parse::<i32>().unwrap_or(0);
    if !(1990..=2100).contains(&year) {
        return Err(format!("date {:?} is implausible (year {year})", shorten(s)));
    }
    Ok(dt)
}

fn shorten(s: &str) -> String {
    tidewatch_text::snippet::truncate_chars(s, 60)
}

fn parse_inner(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if s.len() > 10 && s.as_bytes().get(10) == Some(&b' ') {
        let t = format!("{}T{}", &s[..10], &s[11..]);
        if let Ok(d) = DateTime::parse_from_rfc3339(&t) {
            return Some(d.with_timezone(&Utc));
        }
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = s.parse().ok()?;
        return match s.len() {
            9 | 10 => Utc.timestamp_opt(n, 0).single(),
            12 | 13 => Utc.timestamp_millis_opt(n).single(),
            _ => None,
        };
    }
    // Chinese dates: 2024年3月5日 10:20 → 2024-3-5 10:20
    let s = s.replace(['年', '月'], "-").replace('日', " ");
    let s = s.trim().replace(['/', '.'], "-");
    // Restore a fractional-seconds dot mangled by the line above (10:20:30-123 → 10:20:30.123).
    let s = match s.rfind(':') {
        Some(colon) if s[colon..].contains('-') => {
            let (a, b) = s.split_at(colon);
            format!("{a}{}", b.replacen('-', ".", 1))
        }
        _ => s,
    };
    const WITH_TIME: &[&str] = &["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"];
    for f in WITH_TIME {
        if let Ok(n) = NaiveDateTime::parse_from_str(&s, f) {
            return local(n);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
        return local(d.and_hms_opt(0, 0, 0)?);
    }
    None
}

fn local(n: NaiveDateTime) -> Option<DateTime<Utc>> {
    DEFAULT_ZONE.from_local_datetime(&n).earliest().map(|d| d.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(s: &str) -> String {
        parse_datetime(s).map(|d| d.to_rfc3339()).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(iso("2024-03-05T10:20:00+08:00"), "2024-03-05T02:20:00+00:00");
        assert_eq!(iso("2024-03-05 10:20:00Z"), "2024-03-05T10:20:00+00:00");
        assert_eq!(iso("Tue, 05 Mar 2024 10:20:00 +0800"), "2024-03-05T02:20:00+00:00");
        assert_eq!(iso("2024-03-05 10:20"), "2024-03-05T02:20:00+00:00");
        assert_eq!(iso("2024/03/05 10:20:30"), "2024-03-05T02:20:30+00:00");
        assert_eq!(iso("2024年3月5日 10:20"), "2024-03-05T02:20:00+00:00");
        assert_eq!(iso("2024.03.05"), "2024-03-04T16:00:00+00:00");
        assert_eq!(iso("1709605200"), "2024-03-05T02:20:00+00:00");
        assert_eq!(iso("1709605200000"), "2024-03-05T02:20:00+00:00");
        assert_eq!(iso("2024-03-05 10:20:30.250"), "2024-03-05T02:20:30.250+00:00");
    }

    #[test]
    fn refuses_nonsense_with_a_reason() {
        assert!(iso("yesterday").starts_with("ERR cannot read"));
        assert!(iso("3024-01-01").contains("implausible"));
        assert!(iso("2024-13-45").starts_with("ERR"));
        assert!(iso("").contains("empty"));
    }
}
