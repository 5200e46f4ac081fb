//! Working days and hours, per unit: the clock deadlines given in working days or "by the end of
//! the day" are counted on.
//!
//! A [`Calendar`] is a time zone, the hours of a working day, the weekdays that are weekend, the
//! public holidays and the adjusted working days (调休: a Saturday or Sunday worked in exchange
//! for a day off). [`Calendars`] holds the default and one per unit that differs (a canteen that
//! works at weekends). Pure: dates come from the file the engine reads, the instant is passed in.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// One unit's working calendar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// The zone its days are counted in.
    #[serde(default = "shanghai")]
    pub zone: Tz,
    /// When a working day starts, local time.
    #[serde(default = "nine")]
    pub opens: NaiveTime,
    /// When a working day ends, local time (a deadline of "n working days" falls at this time).
    #[serde(default = "half_past_five")]
    pub closes: NaiveTime,
    /// Weekdays off (`["Sat", "Sun"]` unless given).
    #[serde(default = "sat_sun")]
    pub weekend: Vec<Weekday>,
    /// Days off that would be working days (public holidays).
    #[serde(default)]
    pub holidays: BTreeSet<NaiveDate>,
    /// Days worked that would be weekend (调休).
    #[serde(default)]
    pub workdays: BTreeSet<NaiveDate>,
}

fn shanghai() -> Tz {
    chrono_tz::Asia::Shanghai
}
fn nine() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 0, 0).expect("valid")
}
fn half_past_five() -> NaiveTime {
    NaiveTime::from_hms_opt(17, 30, 0).expect("valid")
}
fn sat_sun() -> Vec<Weekday> {
    vec![Weekday::Sat, Weekday::Sun]
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            zone: shanghai(),
            opens: nine(),
            closes: half_past_five(),
            weekend: sat_sun(),
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
        }
    }
}

/// The latest instant of a local date and time: a time skipped by a daylight-saving jump moves
/// to the first instant after it.
fn local(zone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    match zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(_, later) => later.with_timezone(&Utc),
        chrono::LocalResult::None => {
            let mut n = naive;
            for _ in 0..180 {
                n += Duration::minutes(1);
                if let Some(t) = zone.from_local_datetime(&n).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&naive)
        }
    }
}

impl Calendar {
    /// Checks the hours make a day.
    pub fn check(&self) -> Result<(), String> {
        if self.closes <= self.opens {
            return Err(format!("closes ({}) must be after opens ({})", self.closes, self.opens));
        }
        if let Some(d) = self.holidays.intersection(&self.workdays).next() {
            return Err(format!("{d} is both a holiday and an adjusted working day"));
        }
        Ok(())
    }

    /// Whether `date` is worked: an adjusted working day always is, a holiday never, else every
    /// weekday not in the weekend.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if self.workdays.contains(&date) {
            return true;
        }
        !self.holidays.contains(&date) && !self.weekend.contains(&date.weekday())
    }

    /// The local date of an instant.
    pub fn date_of(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.zone).date_naive()
    }

    /// The last instant of `t`'s local day (23:59:59.999 local): "by the end of the same day".
    pub fn end_of_day(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let next = self.date_of(t) + Duration::days(1);
        local(self.zone, next, NaiveTime::MIN) - Duration::milliseconds(1)
    }

    /// The close of the `n`th working day after `t`'s local day (`n` = 0: the close of `t`'s day
    /// if it is a working day and not yet closed, else of the next working day).
    pub fn working_days_after(&self, t: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let mut date = self.date_of(t);
        if n == 0 {
            if self.is_working_day(date) && t < local(self.zone, date, self.closes) {
                return local(self.zone, date, self.closes);
            }
            return self.working_days_after(t, 1);
        }
        let mut left = n;
        // At most 10 years of days off in a row: a calendar with no working day at all ends here.
        for _ in 0..3660 {
            date += Duration::days(1);
            if self.is_working_day(date) {
                left -= 1;
                if left == 0 {
                    break;
                }
            }
        }
        local(self.zone, date, self.closes)
    }
}

/// The default calendar and those of units that differ.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Calendars {
    /// For every unit without its own.
    pub default: Calendar,
    /// By unit id.
    pub units: HashMap<String, Calendar>,
}

impl Calendars {
    /// The calendar of `unit`.
    pub fn of(&self, unit: &str) -> &Calendar {
        self.units.get(unit).unwrap_or(&self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_end_of_the_day_is_local_midnight_not_utc() {
        let c = Calendar::default();
        // 23:30 in Shanghai is 15:30 UTC: the day ends half an hour later, at 16:00 UTC.
        assert_eq!(c.end_of_day(at("2026-12-01T15:30:00Z")), at("2026-12-01T15:59:59.999Z"));
        // 00:10 in Shanghai on the 2nd is still the 1st in UTC: its day ends on the 2nd.
        assert_eq!(c.end_of_day(at("2026-12-01T16:10:00Z")), at("2026-12-02T15:59:59.999Z"));
    }

    #[test]
    fn working_days_skip_weekends_and_holidays_and_count_adjusted_days() {
        let mut c = Calendar::default();
        // Friday 2026-12-04 15:00 local + 1 working day: Monday the 7th at 17:30.
        assert_eq!(c.working_days_after(at("2026-12-04T07:00:00Z"), 1), at("2026-12-07T09:30:00Z"));
        // Monday the 7th a holiday: Tuesday.
        c.holidays.insert(d("2026-12-07"));
        assert_eq!(c.working_days_after(at("2026-12-04T07:00:00Z"), 1), at("2026-12-08T09:30:00Z"));
        // Saturday the 5th worked (调休): it is the first working day after Friday.
        c.workdays.insert(d("2026-12-05"));
        assert_eq!(c.working_days_after(at("2026-12-04T07:00:00Z"), 1), at("2026-12-05T09:30:00Z"));
        assert_eq!(c.working_days_after(at("2026-12-04T07:00:00Z"), 2), at("2026-12-08T09:30:00Z"));
        // Zero working days: today's close if still open, else the next working day's.
        assert_eq!(c.working_days_after(at("2026-12-04T07:00:00Z"), 0), at("2026-12-04T09:30:00Z"));
        assert_eq!(c.working_days_after(at("2026-12-04T10:00:00Z"), 0), at("2026-12-05T09:30:00Z"));
        assert!(c.check().is_ok());
        c.holidays.insert(d("2026-12-05"));
        assert!(c.check().is_err());
    }

    #[test]
    fn a_calendar_with_no_working_day_ends() {
        let every =
            vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
        let c = Calendar { weekend: every, ..Calendar::default() };
        let t = c.working_days_after(at("2026-12-04T07:00:00Z"), 3);
        assert!(t > at("2030-01-01T00:00:00Z"));
    }
}
