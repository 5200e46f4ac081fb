//! The duty rota (值班表): who is on duty for a unit at a given moment.
//!
//! A [`Rotation`] hands duty from member to member at a local wall-clock time in its own time
//! zone: daily, weekly or every N days, on every day or on chosen weekdays only, for the whole day
//! (24-hour cover, hand-off to hand-off) or for hours of the day. Shift boundaries are local times,
//! so a shift across a daylight-saving change lasts 23 or 25 hours, and a hand-off time that does
//! not exist that day (inside the spring gap) happens at the first instant after the gap.
//!
//! A [`Schedule`] stacks rotations in layers (a later layer wins where it has someone on duty) and
//! [`Override`]s on top (a later override wins over an earlier one). A shift swap is two
//! overrides.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How often duty passes to the next member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "every")]
pub enum Period {
    /// Every covered day.
    Day,
    /// Every seven days (at the hand-off time on the start date's weekday).
    Week,
    /// Every `days` days.
    Days { days: u32 },
}

/// Which part of a covered day the rotation covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "cover")]
pub enum Cover {
    /// From the hand-off time to the next day's hand-off time (24 hours, 23 or 25 across a
    /// daylight-saving change).
    FullDay,
    /// From `from` to `to` local time on each covered day (`to` after `from`).
    Hours { from: NaiveTime, to: NaiveTime },
}

/// A rotation of members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Rotation {
    pub name: String,
    /// An IANA time zone name (`Asia/Shanghai`).
    #[schemars(with = "String")]
    pub zone: Tz,
    /// In duty order.
    pub members: Vec<String>,
    /// The first covered day (local); its shift is the first member's.
    pub start: NaiveDate,
    /// Local time duty passes to the next member (and a full-day shift starts).
    pub handoff: NaiveTime,
    pub period: Period,
    /// The weekdays covered; empty: every day.
    #[serde(default)]
    pub weekdays: Vec<Weekday>,
    pub cover: Cover,
}

/// Someone on duty, why, and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Shift {
    pub person: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The rotation's name, or `override` (with its note).
    pub source: String,
}

/// A local date and time as an instant: the earlier one when the time happens twice (autumn),
/// the first instant after the gap when it does not happen (spring).
pub fn local_instant(zone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = NaiveDateTime::new(date, time);
    match zone.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // Inside the spring gap: walk forward a minute at a time (gaps are at most hours).
            let mut n = naive;
            for _ in 0..(24 * 60) {
                n += Duration::minutes(1);
                if let Some(t) = zone.from_local_datetime(&n).earliest() {
                    return t.with_timezone(&Utc);
                }
            }
            Utc.from_utc_datetime(&naive)
        }
    }
}

impl Rotation {
    fn covers(&self, day: NaiveDate) -> bool {
        day >= self.start && (self.weekdays.is_empty() || self.weekdays.contains(&day.weekday()))
    }

    /// The index of the member on duty for the shift of covered day `day`.
    fn member_index(&self, day: NaiveDate) -> usize {
        let n = self.members.len().max(1);
        let days = (day - self.start).num_days();
        let k = match self.period {
            Period::Day if self.weekdays.is_empty() => days,
            // Weekday-only: count covered days, so Friday hands to Monday.
            Period::Day => {
                let full_weeks = days / 7;
                let per_week = self.weekdays.len() as i64;
                let mut k = full_weeks * per_week;
                let mut d = self.start + Duration::days(full_weeks * 7);
                while d < day {
                    if self.covers(d) {
                        k += 1;
                    }
                    d += Duration::days(1);
                }
                k
            }
            Period::Week => days.div_euclid(7),
            Period::Days { days: every } => days.div_euclid(every.max(1) as i64),
        };
        k.rem_euclid(n as i64) as usize
    }

    /// The shift of covered day `day`, if the day is covered and the rotation has members.
    pub fn shift_of_day(&self, day: NaiveDate) -> Option<Shift> {
        if self.members.is_empty() || !self.covers(day) {
            return None;
        }
        let (from, to) = match self.cover {
            Cover::FullDay => (
                local_instant(self.zone, day, self.handoff),
                local_instant(self.zone, day + Duration::days(1), self.handoff),
            ),
            Cover::Hours { from, to } => (local_instant(self.zone, day, from), local_instant(self.zone, day, to)),
        };
        Some(Shift { person: self.members[self.member_index(day)].clone(), from, to, source: self.name.clone() })
    }

    /// The shift in force at `t`, if any.
    pub fn at(&self, t: DateTime<Utc>) -> Option<Shift> {
        let local = t.with_timezone(&self.zone).date_naive();
        // A full-day shift that started yesterday may still run; check both days.
        [local - Duration::days(1), local]
            .into_iter()
            .rev()
            .filter_map(|d| self.shift_of_day(d))
            .find(|s| s.from <= t && t < s.to)
    }

    /// Shifts starting in `from..to`, in order.
    pub fn shifts_starting(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
        let mut out = Vec::new();
        let mut day = from.with_timezone(&self.zone).date_naive() - Duration::days(1);
        let last = to.with_timezone(&self.zone).date_naive() + Duration::days(1);
        while day <= last {
            if let Some(s) = self.shift_of_day(day) {
                if s.from >= from && s.from < to {
                    out.push(s);
                }
            }
            day += Duration::days(1);
        }
        out
    }
}

/// Someone covering a span instead of whoever the rotations say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Override {
    pub person: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Why (a swap, leave, …).
    pub note: String,
}

/// A unit's schedule: rotations in layers, overrides on top.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Schedule {
    /// Later layers win where they have someone on duty.
    #[serde(default)]
    pub layers: Vec<Rotation>,
    /// Later overrides win over earlier ones.
    #[serde(default)]
    pub overrides: Vec<Override>,
}

impl Schedule {
    /// Who is on duty at `t`: the latest override covering `t`, else the last layer with a
    /// shift at `t`.
    pub fn on_duty(&self, t: DateTime<Utc>) -> Option<Shift> {
        if let Some(o) = self.overrides.iter().rev().find(|o| o.from <= t && t < o.to) {
            return Some(Shift {
                person: o.person.clone(),
                from: o.from,
                to: o.to,
                source: format!("override: {}", o.note),
            });
        }
        self.layers.iter().rev().find_map(|r| r.at(t))
    }

    /// Adds an override on top of everything before it.
    pub fn add_override(&mut self, o: Override) {
        self.overrides.push(o);
    }

    /// Swaps the shifts in force at `a` and at `b`: each person covers the other's shift, as two
    /// overrides. Fails when no one is on duty at either time, or when it is the same shift.
    pub fn swap(&mut self, a: DateTime<Utc>, b: DateTime<Utc>) -> Result<(), String> {
        let sa = self.on_duty(a).ok_or_else(|| format!("no one is on duty at {a}"))?;
        let sb = self.on_duty(b).ok_or_else(|| format!("no one is on duty at {b}"))?;
        if sa.from == sb.from && sa.person == sb.person {
            return Err("both times are in the same shift".into());
        }
        let note = format!("swap {} ↔ {}", sa.person, sb.person);
        self.add_override(Override { person: sb.person.clone(), from: sa.from, to: sa.to, note: note.clone() });
        self.add_override(Override { person: sa.person.clone(), from: sb.from, to: sb.to, note });
        Ok(())
    }

    /// Hand-offs in `from..to`: each moment the person on duty changes, with the new shift (for
    /// "you are on duty from 08:00" notices). Considers rotation shift starts and override edges.
    pub fn handoffs(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Shift> {
        let mut edges: Vec<DateTime<Utc>> = Vec::new();
        for r in &self.layers {
            for s in r.shifts_starting(from, to) {
                edges.push(s.from);
                edges.push(s.to);
            }
        }
        for o in &self.overrides {
            edges.extend([o.from, o.to]);
        }
        edges.retain(|t| *t >= from && *t < to);
        edges.sort();
        edges.dedup();
        let mut out: Vec<Shift> = Vec::new();
        let mut current = self.on_duty(from - Duration::seconds(1)).map(|s| s.person);
        for t in edges {
            let now = self.on_duty(t);
            let person = now.as_ref().map(|s| s.person.clone());
            if person != current {
                if let Some(s) = now {
                    out.push(Shift { from: t, ..s });
                }
                current = person;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(zone: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        local_instant(zone, NaiveDate::from_ymd_opt(y, m, d).unwrap(), NaiveTime::from_hms_opt(h, min, 0).unwrap())
    }

    fn rotation(zone: Tz, members: &[&str], period: Period, weekdays: Vec<Weekday>, cover: Cover) -> Rotation {
        Rotation {
            name: "main".into(),
            zone,
            members: members.iter().map(|s| s.to_string()).collect(),
            start: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(), // a Monday
            handoff: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            period,
            weekdays,
            cover,
        }
    }

    const SH: Tz = chrono_tz::Asia::Shanghai;

    #[test]
    fn daily_rotation_hands_off_at_eight_local() {
        let r = rotation(SH, &["王", "李", "张"], Period::Day, vec![], Cover::FullDay);
        let who = |d, h| r.at(t(SH, 2026, 11, d, h, 0)).map(|s| s.person);
        assert_eq!(who(2, 7), None, "before the first shift");
        assert_eq!(who(2, 8).as_deref(), Some("王"));
        assert_eq!(who(3, 7).as_deref(), Some("王"), "until the next hand-off");
        assert_eq!(who(3, 8).as_deref(), Some("李"));
        assert_eq!(who(4, 23).as_deref(), Some("张"));
        assert_eq!(who(5, 9).as_deref(), Some("王"), "round again");
    }

    #[test]
    fn weekday_only_rotation_skips_weekends_and_friday_hands_to_monday() {
        let weekdays = vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri];
        let office = Cover::Hours {
            from: NaiveTime::from_hms_opt(8, 30, 0).unwrap(),
            to: NaiveTime::from_hms_opt(17, 30, 0).unwrap(),
        };
        let r = rotation(SH, &["A", "B", "C"], Period::Day, weekdays, office);
        let who = |d, h| r.at(t(SH, 2026, 11, d, h, 0)).map(|s| s.person);
        // Mon 2 A, Tue 3 B, Wed 4 C, Thu 5 A, Fri 6 B, (Sat 7, Sun 8 nobody), Mon 9 C
        assert_eq!(who(2, 10).as_deref(), Some("A"));
        assert_eq!(who(6, 10).as_deref(), Some("B"));
        assert_eq!(who(7, 10), None, "Saturday is not covered");
        assert_eq!(who(8, 12), None, "Sunday is not covered");
        assert_eq!(who(9, 10).as_deref(), Some("C"), "Friday's B hands to Monday's C");
        assert_eq!(who(9, 18), None, "outside office hours");
        assert_eq!(who(16, 9).as_deref(), Some("B"), "a week later: counted over covered days only");
    }

    #[test]
    fn weekly_rotation_and_custom_periods() {
        let r = rotation(SH, &["A", "B"], Period::Week, vec![], Cover::FullDay);
        let who = |d, h| r.at(t(SH, 2026, 11, d, h, 0)).map(|s| s.person);
        assert_eq!(who(2, 9).as_deref(), Some("A"));
        assert_eq!(who(9, 7).as_deref(), Some("A"), "the week ends at Monday's hand-off");
        assert_eq!(who(9, 8).as_deref(), Some("B"));
        let r = rotation(SH, &["A", "B"], Period::Days { days: 3 }, vec![], Cover::FullDay);
        assert_eq!(r.at(t(SH, 2026, 11, 5, 7, 0)).unwrap().person, "A");
        assert_eq!(r.at(t(SH, 2026, 11, 5, 8, 0)).unwrap().person, "B");
    }

    #[test]
    fn an_override_on_top_of_an_override_wins_and_the_rotation_resumes_after_both() {
        let mut s = Schedule {
            layers: vec![rotation(SH, &["A", "B"], Period::Day, vec![], Cover::FullDay)],
            overrides: vec![],
        };
        s.add_override(Override {
            person: "X".into(),
            from: t(SH, 2026, 11, 3, 12, 0),
            to: t(SH, 2026, 11, 3, 20, 0),
            note: "sick".into(),
        });
        s.add_override(Override {
            person: "Y".into(),
            from: t(SH, 2026, 11, 3, 14, 0),
            to: t(SH, 2026, 11, 3, 16, 0),
            note: "covers X".into(),
        });
        let who = |h| s.on_duty(t(SH, 2026, 11, 3, h, 0)).map(|x| x.person);
        assert_eq!(who(10).as_deref(), Some("B"));
        assert_eq!(who(13).as_deref(), Some("X"));
        assert_eq!(who(15).as_deref(), Some("Y"), "the later override wins");
        assert_eq!(who(17).as_deref(), Some("X"), "the earlier override resumes");
        assert_eq!(who(21).as_deref(), Some("B"), "then the rotation");
        assert!(s.on_duty(t(SH, 2026, 11, 3, 15, 0)).unwrap().source.starts_with("override"));
    }

    #[test]
    fn a_swap_exchanges_two_shifts() {
        let mut s = Schedule {
            layers: vec![rotation(SH, &["A", "B", "C"], Period::Day, vec![], Cover::FullDay)],
            overrides: vec![],
        };
        // Tue 3: B, Thu 5: A
        s.swap(t(SH, 2026, 11, 3, 12, 0), t(SH, 2026, 11, 5, 12, 0)).unwrap();
        assert_eq!(s.on_duty(t(SH, 2026, 11, 3, 9, 0)).unwrap().person, "A");
        assert_eq!(s.on_duty(t(SH, 2026, 11, 4, 7, 59)).unwrap().person, "A", "the whole shift");
        assert_eq!(s.on_duty(t(SH, 2026, 11, 5, 9, 0)).unwrap().person, "B");
        assert_eq!(s.on_duty(t(SH, 2026, 11, 4, 9, 0)).unwrap().person, "C", "others untouched");
        assert!(s.swap(t(SH, 2026, 11, 4, 9, 0), t(SH, 2026, 11, 4, 10, 0)).is_err(), "same shift");
        assert!(s.swap(t(SH, 2026, 10, 1, 9, 0), t(SH, 2026, 11, 4, 10, 0)).is_err(), "no one on duty");
    }

    #[test]
    fn shifts_follow_local_time_across_daylight_saving_changes() {
        let ny: Tz = chrono_tz::America::New_York;
        let mut r = rotation(ny, &["A", "B"], Period::Day, vec![], Cover::FullDay);
        r.start = NaiveDate::from_ymd_opt(2026, 3, 6).unwrap();
        // 2026-03-08: clocks go from 02:00 to 03:00. Saturday's shift (08:00 Sat → 08:00 Sun) is
        // 23 hours; hand-off stays at 08:00 local.
        let sat = r.shift_of_day(NaiveDate::from_ymd_opt(2026, 3, 7).unwrap()).unwrap();
        assert_eq!(sat.to - sat.from, Duration::hours(23));
        assert_eq!(sat.to.with_timezone(&ny).format("%H:%M").to_string(), "08:00");
        // 2026-11-01: clocks go back; that shift is 25 hours.
        let mut r2 = r.clone();
        r2.start = NaiveDate::from_ymd_opt(2026, 10, 30).unwrap();
        let sat = r2.shift_of_day(NaiveDate::from_ymd_opt(2026, 10, 31).unwrap()).unwrap();
        assert_eq!(sat.to - sat.from, Duration::hours(25));
        // A hand-off inside the spring gap (02:30 does not exist on 03-08) happens at 03:00.
        r.handoff = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        let sun = r.shift_of_day(NaiveDate::from_ymd_opt(2026, 3, 8).unwrap()).unwrap();
        assert_eq!(sun.from.with_timezone(&ny).format("%H:%M").to_string(), "03:00");
        // An ambiguous time (01:30 happens twice on 11-01) is the first one.
        let first = local_instant(
            ny,
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            NaiveTime::from_hms_opt(1, 30, 0).unwrap(),
        );
        assert_eq!(first, Utc.with_ymd_and_hms(2026, 11, 1, 5, 30, 0).unwrap());
        // Continuous duty: every minute of the DST week has exactly one person.
        let mut m = t(ny, 2026, 3, 7, 0, 0);
        while m < t(ny, 2026, 3, 10, 0, 0) {
            assert!(r.at(m).is_some() || m < t(ny, 2026, 3, 6, 2, 30), "gap at {m}");
            m += Duration::minutes(7);
        }
    }

    #[test]
    fn handoffs_list_every_change_of_person() {
        let mut s = Schedule {
            layers: vec![rotation(SH, &["A", "B"], Period::Day, vec![], Cover::FullDay)],
            overrides: vec![],
        };
        s.add_override(Override {
            person: "X".into(),
            from: t(SH, 2026, 11, 3, 12, 0),
            to: t(SH, 2026, 11, 3, 14, 0),
            note: "".into(),
        });
        let h = s.handoffs(t(SH, 2026, 11, 3, 0, 0), t(SH, 2026, 11, 4, 12, 0));
        let got: Vec<(String, String)> =
            h.iter().map(|s| (s.person.clone(), s.from.with_timezone(&SH).format("%d %H:%M").to_string())).collect();
        assert_eq!(
            got,
            vec![
                ("B".into(), "03 08:00".into()),
                ("X".into(), "03 12:00".into()),
                ("B".into(), "03 14:00".into()),
                ("A".into(), "04 08:00".into()),
            ]
        );
    }
}
