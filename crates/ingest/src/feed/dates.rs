//! Dates as feeds write them: RFC 822 with its variants (two-digit years, missing weekday or
//! seconds, zone names, military zones), W3C date-time with its partial forms (`2003`, `2003-12`,
//! `2003-12-31`), and the other forms the importer reads. A date without a zone is taken in the
//! zone given (the source's zone).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

fn month(s: &str) -> Option<u32> {
    const M: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let s = s.trim_end_matches('.').to_ascii_lowercase();
    if s.len() < 3 {
        return None;
    }
    M.iter().position(|m| s.starts_with(m)).map(|p| p as u32 + 1)
}

/// Offset in seconds east of UTC for a zone as written in RFC 822 dates.
fn zone_offset(z: &str) -> Option<i32> {
    let z = z.trim();
    if let Some(sign) = z.strip_prefix('+').map(|_| 1).or_else(|| z.strip_prefix('-').map(|_| -1)) {
        let digits: String = z[1..].chars().filter(|c| c.is_ascii_digit()).collect();
        let (h, m) = match digits.len() {
            4 => (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?),
            2 | 1 => (digits.parse::<i32>().ok()?, 0),
            3 => (digits[..1].parse::<i32>().ok()?, digits[1..].parse::<i32>().ok()?),
            _ => return None,
        };
        return Some(sign * (h * 3600 + m * 60));
    }
    let h = match z.to_ascii_uppercase().as_str() {
        "GMT" | "UT" | "UTC" | "Z" | "Z." => 0,
        "EST" => -5,
        "EDT" => -4,
        "CST" => -6,
        "CDT" => -5,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        "A" => -1,
        "M" => -12,
        "N" => 1,
        "Y" => 12,
        "ETC/GMT" => 0,
        _ => return None,
    };
    Some(h * 3600)
}

fn at_offset(n: NaiveDateTime, offset: Option<i32>, zone: Tz) -> Option<DateTime<Utc>> {
    match offset {
        Some(o) => chrono::FixedOffset::east_opt(o)?.from_local_datetime(&n).single().map(|d| d.with_timezone(&Utc)),
        None => zone.from_local_datetime(&n).earliest().map(|d| d.with_timezone(&Utc)),
    }
}

fn time_of(s: &str) -> Option<NaiveTime> {
    let parts: Vec<&str> = s.split(':').collect();
    let h: u32 = parts.first()?.parse().ok()?;
    let m: u32 = parts.get(1).map(|p| p.parse().ok()).unwrap_or(Some(0))?;
    let sec: f64 = parts.get(2).map(|p| p.parse().ok()).unwrap_or(Some(0.0))?;
    NaiveTime::from_hms_opt(h, m, sec as u32)
}

/// RFC 822 and its common variants: `[Wdy,] DD Mon YY[YY] [HH:MM[:SS]] [zone]`.
fn rfc822(s: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let cleaned = s.replace(',', " ");
    let mut tokens: Vec<&str> = cleaned.split_whitespace().collect();
    if tokens.first().is_some_and(|t| t.chars().all(|c| c.is_ascii_alphabetic() || c == '.') && month(t).is_none()) {
        tokens.remove(0); // weekday
    }
    if tokens.len() < 3 {
        return None;
    }
    // "DD Mon YYYY" or "Mon DD YYYY".
    let (day, mon) = match (tokens[0].parse::<u32>(), month(tokens[1]), month(tokens[0]), tokens[1].parse::<u32>()) {
        (Ok(d), Some(m), _, _) => (d, m),
        (_, _, Some(m), Ok(d)) => (d, m),
        _ => return None,
    };
    let mut year: i32 = tokens[2].parse().ok()?;
    if tokens[2].len() <= 2 {
        year += if year < 50 { 2000 } else { 1900 };
    }
    let date = NaiveDate::from_ymd_opt(year, mon, day)?;
    let mut rest = &tokens[3..];
    let time = match rest.first() {
        Some(t) if t.contains(':') => {
            rest = &rest[1..];
            // A zone glued to the time: "10:14:55+0000" or "10:14:55Z".
            let split = t.find(['+', '-', 'Z', 'z']).filter(|&p| p > 0);
            match split {
                Some(p) => {
                    let offset = zone_offset(&t[p..]);
                    return at_offset(date.and_time(time_of(&t[..p])?), offset, zone);
                }
                None => time_of(t)?,
            }
        }
        _ => NaiveTime::from_hms_opt(0, 0, 0)?,
    };
    let offset = match rest.first() {
        Some(z) => Some(zone_offset(z)?),
        None => None,
    };
    at_offset(date.and_time(time), offset, zone)
}

/// W3C date-time and its partial forms; also the space-separated form.
fn w3c(s: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let s = s.trim();
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) && !part.is_empty() {
            part.parse().ok()
        } else {
            None
        }
    };
    let year = digits(0..4)? as i32;
    let (month, day, rest) = match b.get(4) {
        None => (1, 1, ""),
        Some(b'-') => {
            let m = digits(5..7)?;
            match b.get(7) {
                None => (m, 1, ""),
                Some(b'-') => (m, digits(8..10)?, s.get(10..)?),
                _ => return None,
            }
        }
        Some(c) if c.is_ascii_digit() && s.len() >= 8 => (digits(4..6)?, digits(6..8)?, s.get(8..)?),
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let rest = rest.trim_start_matches(['T', 't', ' ']);
    if rest.is_empty() {
        return at_offset(date.and_hms_opt(0, 0, 0)?, Some(0), zone);
    }
    let zpos = rest.find(['Z', 'z', '+', '-']);
    let (t, z) = match zpos {
        Some(p) => (&rest[..p], Some(&rest[p..])),
        None => (rest.trim(), None),
    };
    let time = time_of(t.trim())?;
    let offset = match z {
        Some(z) if z.eq_ignore_ascii_case("z") => Some(0),
        Some(z) => Some(zone_offset(z)?),
        None => None,
    };
    at_offset(date.and_time(time), offset, zone)
}

/// A feed's date, or `None` when it cannot be read.
pub fn parse_feed_date(raw: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    w3c(s, zone).or_else(|| rfc822(s, zone)).or_else(|| crate::dates::parse_datetime(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> String {
        parse_feed_date(s, chrono_tz::UTC).map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default()
    }

    #[test]
    fn feed_date_forms() {
        assert_eq!(utc("Thu, 01 Jan 2004 19:48:21 GMT"), "2004-01-01 19:48:21");
        assert_eq!(utc("Thu, 01 Jan 04 19:48:21 GMT"), "2004-01-01 19:48:21");
        assert_eq!(utc("01 Jan 2004 19:48 -0500"), "2004-01-02 00:48:00");
        assert_eq!(utc("Thu, 1 Jan 2004 19:48:21 EST"), "2004-01-02 00:48:21");
        assert_eq!(utc("2003-12-31T10:14:55Z"), "2003-12-31 10:14:55");
        assert_eq!(utc("2003-12-31T10:14:55-08:00"), "2003-12-31 18:14:55");
        assert_eq!(utc("2003-12-31T10:14:55.25+01:00"), "2003-12-31 09:14:55");
        assert_eq!(utc("2003-12-31"), "2003-12-31 00:00:00");
        assert_eq!(utc("2003-12"), "2003-12-01 00:00:00");
        assert_eq!(utc("2003"), "2003-01-01 00:00:00");
        assert_eq!(utc("20031231"), "2003-12-31 00:00:00");
        assert_eq!(utc("not a date"), "");
    }
}
