//! Escalation: an alert climbs a ladder of steps until someone acknowledges it.
//!
//! A [`Policy`] is an ordered list of steps (the on-duty officer of the unit → the unit lead → the
//! head of the leading group), each with a delay before the next step, and a number of repeats of
//! the whole ladder. An [`Escalation`] is one alert's progress on it. [`Escalation::due`] fires
//! every step whose time has come — a step whose targets resolve to nobody is skipped at once —
//! and records what it fired, so calling it twice for the same moment fires nothing twice; the
//! state is plain data the engine keeps in the store, so a restart resumes where it stopped.
//! Acknowledging stops it; anyone may escalate by hand, also past a step (越级上报).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Whom a step notifies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "type", content = "value")]
pub enum Target {
    /// Whoever is on duty for the unit when the step fires.
    OnDuty(String),
    /// The unit's lead.
    UnitLead(String),
    /// A named person.
    Person(String),
}

/// One rung of the ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Step {
    pub targets: Vec<Target>,
    /// Wait this long after this step before the next one (fractions allowed: 0.5 is 30 s).
    pub delay_minutes: f64,
}

/// An escalation policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Policy {
    pub name: String,
    pub steps: Vec<Step>,
    /// How many more times the whole ladder runs after the first pass.
    #[serde(default)]
    pub repeat: u32,
}

/// What happened to one step: `{"notified": [people]}` or `"skipped"` (the API's snake case;
/// state stored before 2026-12 with `Notified`/`Skipped` still reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fired {
    /// These people were notified.
    #[serde(alias = "Notified")]
    Notified(Vec<String>),
    /// The step resolved to nobody and was skipped.
    #[serde(alias = "Skipped")]
    Skipped,
}

/// A record of one step reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepRecord {
    pub round: u32,
    pub step: usize,
    pub at: DateTime<Utc>,
    pub fired: Fired,
    /// `None`: by the clock; `Some(who)`: escalated by hand.
    pub by: Option<String>,
}

/// One alert's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Escalation {
    pub policy: Policy,
    /// Next step to fire and its round.
    pub step: usize,
    pub round: u32,
    /// When the next step fires; `None` when finished or acknowledged.
    pub next_at: Option<DateTime<Utc>>,
    pub acknowledged: Option<(String, DateTime<Utc>)>,
    pub history: Vec<StepRecord>,
}

impl Escalation {
    /// Starts at `now`: the first step is due at once.
    pub fn start(policy: Policy, now: DateTime<Utc>) -> Escalation {
        let next_at = (!policy.steps.is_empty()).then_some(now);
        Escalation { policy, step: 0, round: 0, next_at, acknowledged: None, history: Vec::new() }
    }

    /// Fires every step due at or before `now`, resolving targets at each step's own time, and
    /// returns the records of the steps fired by this call (empty when nothing was due).
    pub fn due(
        &mut self,
        now: DateTime<Utc>,
        resolve: &dyn Fn(&Target, DateTime<Utc>) -> Vec<String>,
    ) -> Vec<StepRecord> {
        let mut out = Vec::new();
        while let Some(at) = self.next_at.filter(|at| *at <= now) {
            out.push(self.fire(at, resolve, None));
        }
        out
    }

    fn fire(
        &mut self,
        at: DateTime<Utc>,
        resolve: &dyn Fn(&Target, DateTime<Utc>) -> Vec<String>,
        by: Option<String>,
    ) -> StepRecord {
        let step = &self.policy.steps[self.step];
        let mut people: Vec<String> = step.targets.iter().flat_map(|t| resolve(t, at)).collect();
        people.dedup();
        let fired = if people.is_empty() { Fired::Skipped } else { Fired::Notified(people) };
        // An empty step passes at once; a step that notified someone waits its delay.
        let wait = if fired == Fired::Skipped {
            Duration::zero()
        } else {
            Duration::milliseconds((step.delay_minutes.max(0.0) * 60_000.0).round() as i64)
        };
        let record = StepRecord { round: self.round, step: self.step, at, fired, by };
        self.history.push(record.clone());
        self.advance(at + wait);
        record
    }

    fn advance(&mut self, next: DateTime<Utc>) {
        self.step += 1;
        if self.step >= self.policy.steps.len() {
            if self.round < self.policy.repeat {
                self.round += 1;
                self.step = 0;
            } else {
                self.next_at = None;
                return;
            }
        }
        // A whole round of empty steps must not spin: when every step of the round just ended was
        // skipped, stop.
        if self.step == 0
            && self.round > 0
            && self.history.iter().filter(|r| r.round == self.round - 1).all(|r| r.fired == Fired::Skipped)
        {
            self.next_at = None;
            return;
        }
        self.next_at = Some(next);
    }

    /// Acknowledged by `who` at `at`: no further step fires.
    pub fn acknowledge(&mut self, who: &str, at: DateTime<Utc>) {
        if self.acknowledged.is_none() {
            self.acknowledged = Some((who.to_string(), at));
        }
        self.next_at = None;
    }

    /// Escalates by hand at `now`: fires the next step at once, or step `to` when given (past the
    /// ones between, 越级上报). Refused when acknowledged or `to` is not a step.
    pub fn escalate(
        &mut self,
        who: &str,
        now: DateTime<Utc>,
        to: Option<usize>,
        resolve: &dyn Fn(&Target, DateTime<Utc>) -> Vec<String>,
    ) -> Result<StepRecord, String> {
        if self.acknowledged.is_some() {
            return Err("already acknowledged".into());
        }
        if self.policy.steps.is_empty() {
            return Err("the policy has no steps".into());
        }
        if let Some(to) = to {
            if to >= self.policy.steps.len() {
                return Err(format!("step {to} does not exist (the policy has {})", self.policy.steps.len()));
            }
            self.step = to;
        } else if self.next_at.is_none() {
            // Finished: escalating again starts from the last step.
            self.step = self.policy.steps.len() - 1;
        }
        Ok(self.fire(now, resolve, Some(who.to_string())))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn fired_steps_read_in_both_spellings() {
        // Regression (issue 12): history was `{"Notified": […]}` in the API; stored state keeps
        // reading after the rename.
        assert_eq!(serde_json::to_string(&Fired::Notified(vec!["a".into()])).unwrap(), r#"{"notified":["a"]}"#);
        assert_eq!(serde_json::to_string(&Fired::Skipped).unwrap(), r#""skipped""#);
        assert_eq!(serde_json::from_str::<Fired>(r#"{"Notified":["a"]}"#).unwrap(), Fired::Notified(vec!["a".into()]));
        assert_eq!(serde_json::from_str::<Fired>(r#""Skipped""#).unwrap(), Fired::Skipped);
    }

    use super::*;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0).unwrap() + Duration::minutes(min)
    }

    fn policy(repeat: u32) -> Policy {
        Policy {
            name: "p".into(),
            steps: vec![
                Step { targets: vec![Target::OnDuty("后勤".into())], delay_minutes: 10.0 },
                Step { targets: vec![Target::UnitLead("后勤".into())], delay_minutes: 15.0 },
                Step { targets: vec![Target::Person("head".into())], delay_minutes: 30.0 },
            ],
            repeat,
        }
    }

    fn resolver(empty_lead: bool) -> impl Fn(&Target, DateTime<Utc>) -> Vec<String> {
        move |t: &Target, _| match t {
            Target::OnDuty(_) => vec!["officer".into()],
            Target::UnitLead(_) if empty_lead => vec![],
            Target::UnitLead(_) => vec!["lead".into()],
            Target::Person(p) => vec![p.clone()],
        }
    }

    fn who(r: &[StepRecord]) -> Vec<String> {
        r.iter()
            .map(|r| match &r.fired {
                Fired::Notified(p) => p.join(","),
                Fired::Skipped => "-".into(),
            })
            .collect()
    }

    #[test]
    fn steps_fire_on_time_once_each() {
        let mut e = Escalation::start(policy(0), t(0));
        let r = resolver(false);
        assert_eq!(who(&e.due(t(0), &r)), vec!["officer"]);
        assert!(e.due(t(0), &r).is_empty(), "calling again fires nothing twice");
        assert!(e.due(t(9), &r).is_empty());
        assert_eq!(who(&e.due(t(10), &r)), vec!["lead"]);
        // late: both remaining steps at their own times
        let late = e.due(t(100), &r);
        assert_eq!(who(&late), vec!["head"]);
        assert_eq!(late[0].at, t(25));
        assert_eq!(e.next_at, None, "finished");
    }

    #[test]
    fn an_empty_step_is_skipped_at_once() {
        let mut e = Escalation::start(policy(0), t(0));
        let r = resolver(true);
        e.due(t(0), &r);
        let fired = e.due(t(10), &r);
        assert_eq!(who(&fired), vec!["-", "head"], "the empty lead step passes to the head at once");
        assert_eq!(fired[1].at, t(10));
    }

    #[test]
    fn acknowledging_stops_it_and_repeats_run_the_ladder_again() {
        let r = resolver(false);
        let mut e = Escalation::start(policy(1), t(0));
        e.due(t(0), &r);
        e.acknowledge("officer", t(5));
        assert!(e.due(t(1000), &r).is_empty());
        assert_eq!(e.acknowledged, Some(("officer".into(), t(5))));
        assert!(e.escalate("x", t(6), None, &r).is_err());

        let mut e = Escalation::start(policy(1), t(0));
        let all = e.due(t(1000), &r);
        assert_eq!(who(&all), vec!["officer", "lead", "head", "officer", "lead", "head"]);
        assert_eq!(all[3].at, t(55), "the second round starts after the last step's delay");
        assert_eq!(all[3].round, 1);
    }

    #[test]
    fn manual_escalation_can_skip_steps() {
        let r = resolver(false);
        let mut e = Escalation::start(policy(0), t(0));
        e.due(t(0), &r);
        let rec = e.escalate("student-affairs", t(2), Some(2), &r).unwrap();
        assert_eq!((rec.step, rec.by.as_deref()), (2, Some("student-affairs")));
        assert_eq!(who(std::slice::from_ref(&rec)), vec!["head"]);
        assert!(e.escalate("x", t(3), Some(7), &r).is_err());
    }

    #[test]
    fn a_ladder_of_nobody_does_not_spin() {
        let nobody = |_: &Target, _| Vec::new();
        let mut e = Escalation::start(policy(5), t(0));
        let fired = e.due(t(10_000), &nobody);
        assert_eq!(fired.len(), 3, "one round of skips, then it stops");
        assert_eq!(e.next_at, None);
    }

    #[test]
    fn the_state_survives_a_round_trip_through_json() {
        let r = resolver(false);
        let mut e = Escalation::start(policy(0), t(0));
        e.due(t(0), &r);
        let saved = serde_json::to_string(&e).unwrap();
        let mut back: Escalation = serde_json::from_str(&saved).unwrap();
        assert!(back.due(t(5), &r).is_empty(), "nothing fires twice after a restart");
        assert_eq!(who(&back.due(t(10), &r)), vec!["lead"], "the next step fires on time");
    }
}
