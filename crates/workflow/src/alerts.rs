//! Alerts: signals grouped per story so that one event is one alert that updates, not a storm.
//!
//! As in Alertmanager: a new group waits `group_wait` before its first notification (so the
//! signals that arrive together go out together), an alert with new signals is notified again no
//! sooner than `group_interval` after the last notification, and an alert with nothing new is
//! repeated every `repeat_interval` while it fires. Unlike Alertmanager, an alert can be
//! acknowledged (it stops repeating and its escalation stops) and is resolved by a person.
//!
//! **Silences** mute signals matching all their matchers between two times, with an author and a
//! comment. **Inhibition**: while a case is open on a story, that story's signals update the case
//! instead of alerting, unless their severity is above the case's. A **routing tree** sends an
//! alert to an escalation policy by kind, topic, unit and severity.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Severity, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Parses a lower-case name.
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A signal as the alerting sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SignalIn {
    pub id: i64,
    pub kind: String,
    pub severity: Severity,
    pub at: DateTime<Utc>,
    pub topic: Option<String>,
    /// The unit owning the topic (or the source).
    pub unit: Option<String>,
    pub story: Option<String>,
    pub title: String,
    /// Why it was raised, in a few lines for people.
    #[serde(default)]
    pub details: Vec<String>,
}

/// A field a matcher looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Kind,
    Topic,
    Unit,
    Severity,
    Story,
}

/// `field = value` or `field != value`; for severity also `>=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Matcher {
    pub field: Field,
    #[serde(default = "eq")]
    pub op: String,
    pub value: String,
}

fn eq() -> String {
    "=".into()
}

impl Matcher {
    /// Whether the signal matches. Unknown operators match nothing (they are refused when a
    /// silence or route is checked, see [`Matcher::check`]).
    pub fn matches(&self, s: &SignalIn) -> bool {
        let got: Option<&str> = match self.field {
            Field::Kind => Some(&s.kind),
            Field::Topic => s.topic.as_deref(),
            Field::Unit => s.unit.as_deref(),
            Field::Severity => Some(s.severity.as_str()),
            Field::Story => s.story.as_deref(),
        };
        match self.op.as_str() {
            "=" => got == Some(self.value.as_str()),
            "!=" => got != Some(self.value.as_str()),
            ">=" if self.field == Field::Severity => Severity::parse(&self.value).is_some_and(|v| s.severity >= v),
            _ => false,
        }
    }

    /// Refuses operators and severities that do not exist.
    pub fn check(&self) -> Result<(), String> {
        match (self.op.as_str(), self.field) {
            ("=" | "!=", _) | (">=", Field::Severity) => {}
            (op, _) => return Err(format!("operator {op:?} is not one of =, != (and >= for severity)")),
        }
        if self.field == Field::Severity && Severity::parse(&self.value).is_none() {
            return Err(format!("{:?} is not a severity (low, medium, high, critical)", self.value));
        }
        Ok(())
    }
}

/// Mutes matching signals for a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Silence {
    pub id: i64,
    pub matchers: Vec<Matcher>,
    pub starts: DateTime<Utc>,
    pub ends: DateTime<Utc>,
    pub author: String,
    pub comment: String,
}

impl Silence {
    /// Whether it mutes `s` at `at`.
    pub fn mutes(&self, s: &SignalIn, at: DateTime<Utc>) -> bool {
        self.starts <= at && at < self.ends && !self.matchers.is_empty() && self.matchers.iter().all(|m| m.matches(s))
    }
}

/// A node of the routing tree: when its matchers all match, its children are tried in order;
/// the first child that matches decides (and the ones after it too, when it has `continue`); when
/// none does, this node's policy applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Route {
    #[serde(default)]
    pub matchers: Vec<Matcher>,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
}

impl Route {
    /// The escalation policies for a signal (empty: no route matched and the root has none).
    pub fn policies(&self, s: &SignalIn) -> Vec<String> {
        if !self.matchers.iter().all(|m| m.matches(s)) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for child in &self.routes {
            let got = child.policies(s);
            if !got.is_empty() {
                out.extend(got);
                if !child.continue_matching {
                    break;
                }
            }
        }
        if out.is_empty() {
            out.extend(self.policy.clone());
        }
        out
    }
}

/// Timing of notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Timing {
    pub group_wait_seconds: i64,
    pub group_interval_seconds: i64,
    pub repeat_interval_seconds: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { group_wait_seconds: 30, group_interval_seconds: 300, repeat_interval_seconds: 4 * 3600 }
    }
}

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Firing,
    Acknowledged,
    Resolved,
}

/// One step of an alert's life, with who and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub what: String,
    pub who: Option<String>,
}

/// An alert: the signals of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Alert {
    pub id: i64,
    pub key: String,
    /// The kind of its first signal.
    pub kind: String,
    pub story: Option<String>,
    pub topic: Option<String>,
    pub unit: Option<String>,
    pub severity: Severity,
    pub title: String,
    pub signals: Vec<i64>,
    pub first_at: DateTime<Utc>,
    pub state: State,
    pub events: Vec<Event>,
    pub last_notified: Option<DateTime<Utc>>,
    /// Signals not yet in a notification.
    pub pending: usize,
    /// The latest signal's explanation lines.
    #[serde(default)]
    pub details: Vec<String>,
    /// The case opened from it.
    #[serde(default)]
    pub case: Option<i64>,
}

impl Alert {
    /// The alert as a signal, for routing and matching.
    pub fn as_signal(&self) -> SignalIn {
        SignalIn {
            id: self.signals.first().copied().unwrap_or(0),
            kind: self.kind.clone(),
            severity: self.severity,
            at: self.first_at,
            topic: self.topic.clone(),
            unit: self.unit.clone(),
            story: self.story.clone(),
            title: self.title.clone(),
            details: self.details.clone(),
        }
    }
}

/// Why an alert is notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    First,
    Update,
    Repeat,
}

/// What became of a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    NewAlert(i64),
    Updated(i64),
    /// Already part of its alert.
    Duplicate(i64),
    Silenced(i64),
    /// A case is open on the story: the signal goes to the case.
    Inhibited {
        case: i64,
    },
}

/// The alerts not yet resolved, the silences and the open cases. Every change marks the alert
/// (or the silences) changed; [`Alerts::take_changes`] hands them to the store and archives the
/// resolved ones (they leave memory; the store keeps them).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Alerts {
    pub timing: Timing,
    pub alerts: Vec<Alert>,
    pub silences: Vec<Silence>,
    /// Story → (case id, the case's severity).
    pub open_cases: HashMap<String, (i64, Severity)>,
    pub next_id: i64,
    /// Alerts changed since the last [`Alerts::take_changes`].
    #[serde(skip)]
    pub changed: std::collections::BTreeSet<i64>,
    /// Silences changed since then.
    #[serde(skip)]
    pub silences_changed: bool,
}

impl Alerts {
    /// No alerts yet.
    pub fn new(timing: Timing) -> Alerts {
        Alerts { timing, next_id: 1, ..Alerts::default() }
    }

    /// The group a signal belongs to: its story, else its topic, else its kind.
    pub fn key(s: &SignalIn) -> String {
        match (&s.story, &s.topic) {
            (Some(story), _) => format!("story:{story}"),
            (None, Some(topic)) => format!("topic:{topic}"),
            (None, None) => format!("kind:{}", s.kind),
        }
    }

    /// Takes in one signal at `now`.
    pub fn ingest(&mut self, s: &SignalIn, now: DateTime<Utc>) -> Decision {
        if let Some(silence) = self.silences.iter().find(|x| x.mutes(s, now)) {
            return Decision::Silenced(silence.id);
        }
        if let Some((case, severity)) = s.story.as_ref().and_then(|st| self.open_cases.get(st)) {
            if s.severity <= *severity {
                return Decision::Inhibited { case: *case };
            }
        }
        let key = Alerts::key(s);
        if let Some(a) = self.alerts.iter_mut().find(|a| a.key == key && a.state != State::Resolved) {
            if a.signals.contains(&s.id) {
                return Decision::Duplicate(a.id);
            }
            a.signals.push(s.id);
            a.pending += 1;
            self.changed.insert(a.id);
            a.details = s.details.clone();
            if s.severity > a.severity {
                a.events.push(Event {
                    at: now,
                    what: format!("severity {} → {}", a.severity.as_str(), s.severity.as_str()),
                    who: None,
                });
                a.severity = s.severity;
                a.title = s.title.clone();
            }
            return Decision::Updated(a.id);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.changed.insert(id);
        self.alerts.push(Alert {
            id,
            key,
            kind: s.kind.clone(),
            story: s.story.clone(),
            topic: s.topic.clone(),
            unit: s.unit.clone(),
            severity: s.severity,
            title: s.title.clone(),
            signals: vec![s.id],
            first_at: now,
            state: State::Firing,
            events: vec![Event { at: now, what: "firing".into(), who: None }],
            last_notified: None,
            pending: 1,
            details: s.details.clone(),
            case: None,
        });
        Decision::NewAlert(id)
    }

    /// The alerts to notify at `now`, marked notified.
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<(i64, Reason)> {
        let t = self.timing;
        let mut out = Vec::new();
        for a in self.alerts.iter_mut().filter(|a| a.state != State::Resolved) {
            let reason = match a.last_notified {
                None if now >= a.first_at + Duration::seconds(t.group_wait_seconds) => Some(Reason::First),
                None => None,
                Some(last) if a.pending > 0 && now >= last + Duration::seconds(t.group_interval_seconds) => {
                    Some(Reason::Update)
                }
                Some(last)
                    if a.state == State::Firing
                        && a.pending == 0
                        && now >= last + Duration::seconds(t.repeat_interval_seconds) =>
                {
                    Some(Reason::Repeat)
                }
                Some(_) => None,
            };
            if let Some(r) = reason {
                a.last_notified = Some(now);
                a.pending = 0;
                out.push((a.id, r));
                self.changed.insert(a.id);
            }
        }
        out
    }

    /// Acknowledges an alert.
    pub fn acknowledge(&mut self, id: i64, who: &str, at: DateTime<Utc>) -> Result<(), String> {
        let a = self.get_mut(id)?;
        match a.state {
            State::Firing => {
                a.state = State::Acknowledged;
                a.events.push(Event { at, what: "acknowledged".into(), who: Some(who.into()) });
                Ok(())
            }
            State::Acknowledged => Ok(()),
            State::Resolved => Err(format!("alert {id} is resolved")),
        }
    }

    /// Resolves an alert; a later signal of its group starts a new one.
    pub fn resolve(&mut self, id: i64, who: &str, at: DateTime<Utc>) -> Result<(), String> {
        let a = self.get_mut(id)?;
        if a.state != State::Resolved {
            a.state = State::Resolved;
            a.events.push(Event { at, what: "resolved".into(), who: Some(who.into()) });
        }
        Ok(())
    }

    /// Links an alert to the case opened from it and acknowledges it for `who` (a case owns
    /// the issue now). An alert links to one case only.
    pub fn link_case(&mut self, id: i64, case: i64, who: &str, at: DateTime<Utc>) -> Result<(), String> {
        let a = self.get_mut(id)?;
        if let Some(c) = a.case {
            return Err(format!("alert {id} already has case {c}"));
        }
        a.case = Some(case);
        a.events.push(Event { at, what: format!("case {case} opened"), who: Some(who.into()) });
        if a.state == State::Firing {
            a.state = State::Acknowledged;
            a.events.push(Event { at, what: "acknowledged".into(), who: Some(who.into()) });
        }
        Ok(())
    }

    /// An alert by id.
    pub fn get(&self, id: i64) -> Option<&Alert> {
        self.alerts.iter().find(|a| a.id == id)
    }

    /// The alert to change (marked changed).
    fn get_mut(&mut self, id: i64) -> Result<&mut Alert, String> {
        let changed = &mut self.changed;
        self.alerts
            .iter_mut()
            .find(|a| a.id == id)
            .inspect(|_| {
                changed.insert(id);
            })
            .ok_or_else(|| format!("no alert {id}"))
    }

    /// The alerts and whether the silences changed since the last call; resolved alerts leave
    /// memory (archived: the store keeps them) and so do silences that ended before `now`.
    pub fn take_changes(&mut self, now: DateTime<Utc>) -> (Vec<Alert>, Option<Vec<Silence>>) {
        let ids = std::mem::take(&mut self.changed);
        let alerts: Vec<Alert> = self.alerts.iter().filter(|a| ids.contains(&a.id)).cloned().collect();
        self.alerts.retain(|a| a.state != State::Resolved);
        let silences = std::mem::take(&mut self.silences_changed).then(|| self.silences.clone());
        self.silences.retain(|s| s.ends > now);
        (alerts, silences)
    }

    /// Adds a silence after checking it.
    pub fn silence(&mut self, s: Silence) -> Result<(), String> {
        if s.matchers.is_empty() {
            return Err("a silence needs at least one matcher".into());
        }
        if s.ends <= s.starts {
            return Err("a silence must end after it starts".into());
        }
        if s.author.trim().is_empty() {
            return Err("a silence needs an author".into());
        }
        for m in &s.matchers {
            m.check()?;
        }
        self.silences.push(s);
        self.silences_changed = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0).unwrap() + Duration::seconds(s)
    }

    fn signal(id: i64, story: &str, severity: Severity) -> SignalIn {
        SignalIn {
            id,
            kind: "burst".into(),
            severity,
            at: t(0),
            topic: Some("food-safety".into()),
            unit: Some("后勤".into()),
            story: Some(story.into()),
            title: format!("signal {id}"),
            details: vec![],
        }
    }

    #[test]
    fn one_story_is_one_alert_that_updates() {
        let mut a = Alerts::new(Timing::default());
        assert_eq!(a.ingest(&signal(1, "7", Severity::Medium), t(0)), Decision::NewAlert(1));
        assert_eq!(a.ingest(&signal(2, "7", Severity::Medium), t(5)), Decision::Updated(1));
        assert_eq!(a.ingest(&signal(2, "7", Severity::Medium), t(6)), Decision::Duplicate(1));
        assert_eq!(a.ingest(&signal(3, "8", Severity::Low), t(7)), Decision::NewAlert(2));
        assert!(a.due(t(29)).is_empty(), "group wait");
        assert_eq!(a.due(t(30)), vec![(1, Reason::First)]);
        assert_eq!(a.due(t(37)), vec![(2, Reason::First)]);
        a.ingest(&signal(4, "7", Severity::High), t(60));
        assert!(a.due(t(100)).is_empty(), "group interval");
        assert_eq!(a.due(t(330)), vec![(1, Reason::Update)]);
        assert_eq!(a.get(1).unwrap().severity, Severity::High);
        assert!(a.due(t(330 + 4 * 3600)).contains(&(1, Reason::Repeat)));
        a.acknowledge(1, "officer", t(20_000)).unwrap();
        assert!(a.due(t(40_000)).iter().all(|(id, _)| *id != 1), "acknowledged alerts do not repeat");
        a.resolve(1, "officer", t(40_001)).unwrap();
        assert_eq!(
            a.ingest(&signal(5, "7", Severity::Medium), t(40_002)),
            Decision::NewAlert(3),
            "after resolve, a new alert"
        );
        let events: Vec<&str> = a.get(1).unwrap().events.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(events, vec!["firing", "severity medium → high", "acknowledged", "resolved"]);
        assert!(a.acknowledge(1, "x", t(40_003)).is_err());
    }

    #[test]
    fn silences_and_inhibition() {
        let mut a = Alerts::new(Timing::default());
        let m = |field, op: &str, value: &str| Matcher { field, op: op.into(), value: value.into() };
        a.silence(Silence {
            id: 9,
            matchers: vec![m(Field::Topic, "=", "food-safety"), m(Field::Severity, "!=", "critical")],
            starts: t(0),
            ends: t(3600),
            author: "王".into(),
            comment: "known, case handles it".into(),
        })
        .unwrap();
        assert_eq!(a.ingest(&signal(1, "7", Severity::High), t(10)), Decision::Silenced(9));
        assert_eq!(a.ingest(&signal(2, "7", Severity::Critical), t(10)), Decision::NewAlert(1));
        assert_eq!(a.ingest(&signal(3, "8", Severity::High), t(3600)), Decision::NewAlert(2), "silence over");
        a.open_cases.insert("9".into(), (42, Severity::Medium));
        assert_eq!(a.ingest(&signal(4, "9", Severity::Medium), t(3700)), Decision::Inhibited { case: 42 });
        assert_eq!(a.ingest(&signal(5, "9", Severity::High), t(3700)), Decision::NewAlert(3), "severity rose");
        for bad in [
            Silence { id: 1, matchers: vec![], starts: t(0), ends: t(1), author: "a".into(), comment: String::new() },
            Silence {
                id: 1,
                matchers: vec![m(Field::Kind, "=", "burst")],
                starts: t(1),
                ends: t(1),
                author: "a".into(),
                comment: String::new(),
            },
            Silence {
                id: 1,
                matchers: vec![m(Field::Kind, "~", "b")],
                starts: t(0),
                ends: t(1),
                author: "a".into(),
                comment: String::new(),
            },
            Silence {
                id: 1,
                matchers: vec![m(Field::Severity, ">=", "huge")],
                starts: t(0),
                ends: t(1),
                author: "a".into(),
                comment: String::new(),
            },
            Silence {
                id: 1,
                matchers: vec![m(Field::Kind, "=", "burst")],
                starts: t(0),
                ends: t(1),
                author: " ".into(),
                comment: String::new(),
            },
        ] {
            assert!(a.silence(bad).is_err());
        }
    }

    #[test]
    fn the_routing_tree_picks_policies() {
        let m = |field, op: &str, value: &str| Matcher { field, op: op.into(), value: value.into() };
        let tree = Route {
            policy: Some("default".into()),
            routes: vec![
                Route {
                    matchers: vec![m(Field::Severity, ">=", "critical")],
                    policy: Some("leadership".into()),
                    continue_matching: true,
                    ..Route::default()
                },
                Route {
                    matchers: vec![m(Field::Unit, "=", "后勤")],
                    policy: Some("logistics".into()),
                    ..Route::default()
                },
                Route {
                    matchers: vec![m(Field::Kind, "=", "site_change")],
                    policy: Some("web".into()),
                    ..Route::default()
                },
            ],
            ..Route::default()
        };
        assert_eq!(tree.policies(&signal(1, "1", Severity::Medium)), vec!["logistics"]);
        assert_eq!(tree.policies(&signal(1, "1", Severity::Critical)), vec!["leadership", "logistics"]);
        let mut other = signal(1, "1", Severity::Low);
        other.unit = Some("教务处".into());
        assert_eq!(tree.policies(&other), vec!["default"]);
    }
}
