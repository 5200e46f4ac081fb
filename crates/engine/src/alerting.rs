//! Alerting, the timed module: signals become alerts, alerts climb their escalation policy, and
//! notifications go out through the outbox.
//!
//! [`Alerting::tick`] runs every second in the server. It reads the signals stored since the last
//! tick, groups them into alerts (`tidewatch_workflow::alerts`), starts an escalation for each new
//! alert on the policy its route names, fires the steps that are due, and writes the alerts'
//! state, the escalations and the notifications they cause to the store **in one transaction**.
//! A notification is in the outbox before anyone sends it; [`deliver`] sends the pending ones and
//! records each attempt, retrying with backoff until delivered or given up with its reason.
//!
//! Everything a tick decides is in the store when it returns; a tick repeated for the same moment
//! decides nothing new (fired steps are recorded in the escalation, notifications have unique
//! keys). Killing the server between ticks and starting it again therefore fires the next step
//! at its time, exactly once.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use tidewatch_store::{AlertRow, Db, NewNotification, Notification};
use tidewatch_workflow::alerts::{Alert, Alerts, Reason, Route, Severity, SignalIn, Silence, State, Timing};
use tidewatch_workflow::escalation::{Escalation, Fired, Policy, Target};
use tidewatch_workflow::notify::{self, AlertNote, Channel, Language};
use tidewatch_workflow::rota::{Override, Schedule, Shift};

use crate::EngineError;

/// A person who can be notified.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Stable id, used in rotations and policies.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Language of messages.
    #[serde(default)]
    pub lang: Language,
    /// Where to reach them (all are used).
    #[serde(default)]
    pub channels: Vec<Channel>,
}

/// A unit: its duty schedule and its lead.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    /// The unit's name as topics give it (`unit = "后勤集团"`).
    pub id: String,
    /// The unit lead (a person id).
    #[serde(default)]
    pub lead: Option<String>,
    /// Who is on duty when.
    #[serde(default)]
    pub schedule: Schedule,
}

/// SMTP settings for email.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    /// Server host name.
    pub host: String,
    /// Port (587 for STARTTLS, 465 for implicit TLS).
    pub port: u16,
    /// `starttls`, `implicit` or `none` (tests only).
    #[serde(default = "starttls")]
    pub tls: String,
    /// Sender address.
    pub from: String,
    /// Login, when the server wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// A PEM file of extra root certificates to trust (a private CA).
    #[serde(default)]
    pub ca_file: Option<String>,
}

fn starttls() -> String {
    "starttls".into()
}

/// How the outbox retries.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Attempts before giving up.
    pub max_attempts: i64,
    /// Wait before the second attempt; doubled for each further one…
    pub first_delay_seconds: i64,
    /// …up to this.
    pub max_delay_seconds: i64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { max_attempts: 8, first_delay_seconds: 30, max_delay_seconds: 3600 }
    }
}

/// `alerting.toml`: people, units with their rotas, escalation policies, the routing tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    /// The server's address as people reach it (links in messages).
    #[serde(default = "default_base")]
    pub base_url: String,
    /// Group wait, group interval, repeat interval.
    #[serde(default)]
    pub timing: Timing,
    /// Acknowledge links expire after this many hours.
    #[serde(default = "default_ack_hours")]
    pub ack_link_hours: i64,
    /// Outbox retries.
    #[serde(default)]
    pub retry: Retry,
    /// Email.
    #[serde(default)]
    pub smtp: Option<Smtp>,
    /// People.
    #[serde(default)]
    pub person: Vec<Person>,
    /// Units.
    #[serde(default)]
    pub unit: Vec<Unit>,
    /// Escalation policies.
    #[serde(default)]
    pub policy: Vec<Policy>,
    /// The routing tree's root.
    #[serde(default)]
    pub route: Route,
}

fn default_base() -> String {
    "http://127.0.0.1:8080".into()
}

fn default_ack_hours() -> i64 {
    24
}

impl Default for AlertingConfig {
    fn default() -> Self {
        AlertingConfig {
            base_url: default_base(),
            timing: Timing::default(),
            ack_link_hours: default_ack_hours(),
            retry: Retry::default(),
            smtp: None,
            person: Vec::new(),
            unit: Vec::new(),
            policy: Vec::new(),
            route: Route::default(),
        }
    }
}

impl AlertingConfig {
    /// Parses and checks a configuration: every person, unit and policy named exists, matchers
    /// are valid, rotations have members.
    pub fn from_toml(text: &str) -> Result<AlertingConfig, String> {
        let c: AlertingConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        let person = |id: &str, what: &str| {
            if c.person.iter().any(|p| p.id == id) {
                Ok(())
            } else {
                Err(format!("{what}: no person {id:?}"))
            }
        };
        for u in &c.unit {
            if let Some(lead) = &u.lead {
                person(lead, &format!("unit {} lead", u.id))?;
            }
            for r in &u.schedule.layers {
                if r.members.is_empty() {
                    return Err(format!("unit {} rotation {}: no members", u.id, r.name));
                }
                for m in &r.members {
                    person(m, &format!("unit {} rotation {}", u.id, r.name))?;
                }
            }
        }
        for p in &c.policy {
            if p.steps.is_empty() {
                return Err(format!("policy {}: no steps", p.name));
            }
            for t in p.steps.iter().flat_map(|s| &s.targets) {
                match t {
                    Target::Person(id) => person(id, &format!("policy {}", p.name))?,
                    Target::OnDuty(u) | Target::UnitLead(u) if !c.unit.iter().any(|x| &x.id == u) => {
                        return Err(format!("policy {}: no unit {u:?}", p.name))
                    }
                    _ => {}
                }
            }
        }
        fn check_route(r: &Route, policies: &[Policy]) -> Result<(), String> {
            for m in &r.matchers {
                m.check()?;
            }
            if let Some(p) = &r.policy {
                if !policies.iter().any(|x| &x.name == p) {
                    return Err(format!("route: no policy {p:?}"));
                }
            }
            r.routes.iter().try_for_each(|c| check_route(c, policies))
        }
        check_route(&c.route, &c.policy)?;
        Ok(c)
    }
}

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Signals read.
    pub signals: usize,
    /// New alerts.
    pub new_alerts: usize,
    /// Notifications queued.
    pub queued: usize,
}

/// The alerting state.
pub struct Alerting {
    config: AlertingConfig,
    alerts: Alerts,
    escalations: BTreeMap<i64, Escalation>,
    cursor: i64,
    key: Vec<u8>,
    /// Overrides added through the API (unit, override), kept in the store.
    overrides: Vec<(String, Override)>,
    /// Hand-off notices have been queued for shifts starting before this.
    handoffs_until: Option<DateTime<Utc>>,
    /// The next silence id.
    next_silence: i64,
    /// Archived alerts changed outside memory (a case linked to a resolved alert), to write.
    archived: Vec<AlertRow>,
}

/// An alert as the store keeps it.
fn alert_row(a: &Alert) -> AlertRow {
    AlertRow {
        id: a.id,
        key: a.key.clone(),
        state: match a.state {
            State::Firing => "firing",
            State::Acknowledged => "acknowledged",
            State::Resolved => "resolved",
        }
        .into(),
        story: a.story.clone(),
        case_id: a.case,
        severity: a.severity.as_str().into(),
        first_at: a.first_at,
        data: serde_json::to_string(a).unwrap_or_default(),
    }
}

fn silence_row(s: &Silence) -> (i64, DateTime<Utc>, String) {
    (s.id, s.ends, serde_json::to_string(s).unwrap_or_default())
}

/// Hand-off notices go out this long before a shift starts.
const HANDOFF_NOTICE: i64 = 30;

impl std::fmt::Debug for Alerting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerting").field("alerts", &self.alerts.alerts.len()).field("cursor", &self.cursor).finish()
    }
}

/// The server's key for acknowledge links: made once, kept in the store.
fn link_key(db: &Db) -> Result<Vec<u8>, EngineError> {
    if let Some(k) = db.meta("ack_link_key")? {
        if let Ok(k) = hex::decode(&k) {
            return Ok(k);
        }
    }
    let mut key = vec![0u8; 32];
    let got = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut key));
    if got.is_err() {
        // No /dev/urandom: mix the clock and the process's random hasher state.
        use std::hash::{BuildHasher, Hasher};
        for chunk in key.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_i64(Utc::now().timestamp_nanos_opt().unwrap_or(0));
            chunk.copy_from_slice(&h.finish().to_le_bytes()[..chunk.len()]);
        }
    }
    db.set_meta("ack_link_key", &hex::encode(&key))?;
    Ok(key)
}

/// Explanation lines of a signal's JSON explanation, for messages.
fn details(kind: &str, explanation: &str) -> Vec<String> {
    let Ok(x) = serde_json::from_str::<serde_json::Value>(explanation) else {
        return explanation.lines().take(8).map(str::to_string).collect();
    };
    let pairs = |v: &serde_json::Value| {
        v.as_array()
            .map(|a| {
                a.iter().map(|p| format!("{} ({})", p[0].as_str().unwrap_or(""), p[1])).collect::<Vec<_>>().join(", ")
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    match kind {
        "burst" => {
            out.push(format!(
                "observed {} items, expected {}; score {} ({}); window {} → {}",
                x["observed"],
                x["expected"],
                x["score"],
                x["sensitivity"].as_str().unwrap_or(""),
                x["window_start"].as_str().unwrap_or(""),
                x["window_end"].as_str().unwrap_or("")
            ));
            out.push(format!("top sources: {}", pairs(&x["top_sources"])));
            out.push(format!("top terms: {}", pairs(&x["top_terms"])));
            for s in x["samples"].as_array().into_iter().flatten().take(3) {
                out.push(format!("{}: {}", s["source"].as_str().unwrap_or(""), s["title"].as_str().unwrap_or("")));
            }
        }
        _ => {
            if let Some(obj) = x.as_object() {
                for (k, v) in obj.iter().take(6) {
                    out.push(format!("{k}: {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())));
                }
            }
        }
    }
    out
}

impl Alerting {
    /// Restores the alerting from the store: the alerts not resolved, the silences still in
    /// force. A store written before alerts were rows has them moved first.
    pub fn open(db: &mut Db, config: AlertingConfig) -> Result<Alerting, EngineError> {
        let saved = db.alerting_state()?;
        if let Some(json) = &saved.alerts {
            let old: Alerts = serde_json::from_str(json)
                .map_err(|e| EngineError::Config(format!("stored alerting state is unreadable: {e}")))?;
            let rows: Vec<AlertRow> = old.alerts.iter().map(alert_row).collect();
            let silences: Vec<(i64, DateTime<Utc>, String)> = old.silences.iter().map(silence_row).collect();
            db.move_alerts_to_rows(&rows, &silences, Utc::now())?;
            tracing::info!(alerts = rows.len(), silences = silences.len(), "alerts moved to rows");
        }
        let saved = db.alerting_state()?;
        let mut alerts = Alerts::new(config.timing);
        for json in db.open_alerts()? {
            let a: Alert = serde_json::from_str(&json)
                .map_err(|e| EngineError::Config(format!("a stored alert is unreadable: {e}")))?;
            alerts.alerts.push(a);
        }
        for json in db.silences_ending_after(Utc::now())? {
            let s: Silence = serde_json::from_str(&json)
                .map_err(|e| EngineError::Config(format!("a stored silence is unreadable: {e}")))?;
            alerts.silences.push(s);
        }
        let (max_alert, max_silence) = db.max_alert_and_silence_ids()?;
        alerts.next_id = max_alert + 1;
        let next_silence = max_silence + 1;
        let mut escalations = BTreeMap::new();
        for (alert, json) in saved.escalations {
            let e: Escalation = serde_json::from_str(&json)
                .map_err(|e| EngineError::Config(format!("stored escalation of alert {alert} is unreadable: {e}")))?;
            escalations.insert(alert, e);
        }
        let mut overrides: Vec<(String, Override)> = Vec::new();
        let mut handoffs_until = None;
        for (k, v) in &saved.extra {
            match k.as_str() {
                "overrides" => {
                    overrides = serde_json::from_str(v)
                        .map_err(|e| EngineError::Config(format!("stored rota overrides are unreadable: {e}")))?
                }
                "handoffs_until" => handoffs_until = serde_json::from_str(v).ok(),
                _ => {}
            }
        }
        let mut config = config;
        for (unit, o) in &overrides {
            if let Some(u) = config.unit.iter_mut().find(|u| &u.id == unit) {
                u.schedule.add_override(o.clone());
            }
        }
        Ok(Alerting {
            key: link_key(db)?,
            config,
            alerts,
            escalations,
            cursor: saved.cursor,
            overrides,
            handoffs_until,
            next_silence,
            archived: Vec::new(),
        })
    }

    /// The alerts.
    pub fn alerts(&self) -> &Alerts {
        &self.alerts
    }

    /// An alert's escalation.
    pub fn escalation(&self, alert: i64) -> Option<&Escalation> {
        self.escalations.get(&alert)
    }

    /// The configuration.
    pub fn config(&self) -> &AlertingConfig {
        &self.config
    }

    /// Who is on duty for `unit` at `at`.
    pub fn on_duty(&self, unit: &str, at: DateTime<Utc>) -> Option<Shift> {
        self.config.unit.iter().find(|u| u.id == unit)?.schedule.on_duty(at)
    }

    fn resolve(&self, target: &Target, at: DateTime<Utc>) -> Vec<String> {
        match target {
            Target::OnDuty(unit) => self.on_duty(unit, at).map(|s| vec![s.person]).unwrap_or_default(),
            Target::UnitLead(unit) => {
                self.config.unit.iter().find(|u| &u.id == unit).and_then(|u| u.lead.clone()).into_iter().collect()
            }
            Target::Person(p) => self.config.person.iter().filter(|x| &x.id == p).map(|x| x.id.clone()).collect(),
        }
    }

    /// Reads new signals, groups them, escalates, and queues notifications; all in the store
    /// when it returns.
    pub fn tick(&mut self, db: &mut Db, now: DateTime<Utc>) -> Result<TickReport, EngineError> {
        let mut report = TickReport::default();
        let signals = db.signals_after(self.cursor, 1000)?;
        // Topics' units, read only when there is something to route (ticks come every second
        // and after every stored batch).
        let units: HashMap<String, Option<String>> = if signals.is_empty() {
            HashMap::new()
        } else {
            db.topics()?.into_iter().map(|t| (t.def.id.clone(), t.def.unit.clone())).collect()
        };
        for s in &signals {
            let input = SignalIn {
                id: s.id,
                kind: s.kind.clone(),
                severity: Severity::parse(&s.severity).unwrap_or(Severity::Medium),
                at: s.created_at,
                unit: s.topic.as_ref().and_then(|t| units.get(t).cloned().flatten()),
                topic: s.topic.clone(),
                story: s.story.clone(),
                title: s.title.clone(),
                details: details(&s.kind, &s.explanation),
            };
            if let tidewatch_workflow::alerts::Decision::NewAlert(_) = self.alerts.ingest(&input, now) {
                report.new_alerts += 1;
            }
            self.cursor = s.id;
        }
        report.signals = signals.len();
        let mut changed: Vec<i64> = Vec::new();
        let mut queue: Vec<NewNotification> = Vec::new();
        for (id, reason) in self.alerts.due(now) {
            let Some(alert) = self.alerts.get(id).cloned() else { continue };
            match reason {
                Reason::First => {
                    let policies = self.config.route.policies(&alert.as_signal());
                    let policy =
                        policies.first().and_then(|p| self.config.policy.iter().find(|x| &x.name == p)).cloned();
                    match policy {
                        Some(p) => {
                            self.escalations.insert(id, Escalation::start(p, now));
                            changed.push(id);
                        }
                        None => {
                            tracing::warn!(alert = id, "no route leads to an escalation policy: nobody is notified")
                        }
                    }
                }
                Reason::Update | Reason::Repeat => {
                    // Everyone the escalation reached so far hears of it.
                    let people: Vec<String> = self
                        .escalations
                        .get(&id)
                        .map(|e| {
                            let mut v: Vec<String> = e
                                .history
                                .iter()
                                .filter_map(|r| if let Fired::Notified(p) = &r.fired { Some(p.clone()) } else { None })
                                .flatten()
                                .collect();
                            v.sort();
                            v.dedup();
                            v
                        })
                        .unwrap_or_default();
                    let tag =
                        format!("{}-{}", if reason == Reason::Update { "update" } else { "repeat" }, now.timestamp());
                    for p in people {
                        queue.extend(self.notifications(&alert, &p, &tag, reason_name(reason), now));
                    }
                }
            }
        }
        // Escalation steps that are due.
        let ids: Vec<i64> =
            self.escalations.iter().filter(|(_, e)| e.next_at.is_some_and(|t| t <= now)).map(|(id, _)| *id).collect();
        for id in ids {
            let Some(alert) = self.alerts.get(id).cloned() else { continue };
            let mut e = self.escalations.remove(&id).expect("listed above");
            let records = e.due(now, &|t, at| self.resolve(t, at));
            for r in &records {
                if let Fired::Notified(people) = &r.fired {
                    let tag = format!("r{}s{}", r.round, r.step);
                    for p in people {
                        queue.extend(self.notifications(
                            &alert,
                            p,
                            &tag,
                            if r.step == 0 && r.round == 0 { "first" } else { "escalation" },
                            now,
                        ));
                    }
                }
            }
            self.escalations.insert(id, e);
            changed.push(id);
        }
        queue.extend(self.handoff_notices(now));
        self.save(db, &changed, &queue, now, &mut report)?;
        crate::metrics::METRICS.alerts_raised.add(report.new_alerts as u64);
        Ok(report)
    }

    /// Notices to people whose shift starts within the next half hour ("you are on duty from
    /// 08:00"), each once.
    fn handoff_notices(&mut self, now: DateTime<Utc>) -> Vec<NewNotification> {
        let from = self.handoffs_until.unwrap_or(now).max(now - Duration::hours(1));
        let until = now + Duration::minutes(HANDOFF_NOTICE);
        if until <= from {
            return Vec::new();
        }
        self.handoffs_until = Some(until);
        let mut out = Vec::new();
        for u in &self.config.unit {
            for shift in u.schedule.handoffs(from, until) {
                let Some(p) = self.config.person.iter().find(|p| p.id == shift.person) else { continue };
                let zone = u.schedule.layers.first().map(|r| r.zone).unwrap_or(chrono_tz::Asia::Shanghai);
                let (start, end) = (shift.from.with_timezone(&zone), shift.to.with_timezone(&zone));
                let (subject, body) = match p.lang {
                    Language::Zh => (
                        format!("[值班] 您将于 {} 起在{}值班", start.format("%m-%d %H:%M %Z"), u.id),
                        format!(
                            "您将于 {} 起在{}值班，至 {}。\n排班：{}\n",
                            start.format("%m-%d %H:%M %Z"),
                            u.id,
                            end.format("%m-%d %H:%M %Z"),
                            shift.source
                        ),
                    ),
                    Language::En => (
                        format!("[Duty] You are on duty for {} from {}", u.id, start.format("%m-%d %H:%M %Z")),
                        format!(
                            "You are on duty for {} from {} to {}.\nSchedule: {}\n",
                            u.id,
                            start.format("%m-%d %H:%M %Z"),
                            end.format("%m-%d %H:%M %Z"),
                            shift.source
                        ),
                    ),
                };
                for (i, c) in p.channels.iter().enumerate() {
                    out.push(NewNotification {
                        key: format!("handoff:{}:{}:{}:{i}", u.id, p.id, shift.from.timestamp()),
                        alert: 0,
                        recipient: p.id.clone(),
                        channel: serde_json::to_string(c).unwrap_or_default(),
                        subject: subject.clone(),
                        body: body.clone(),
                    });
                }
            }
        }
        out
    }

    /// Adds an override to a unit's schedule (kept in the store).
    pub fn add_override(
        &mut self,
        db: &mut Db,
        unit: &str,
        o: Override,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        if o.to <= o.from {
            return Err(EngineError::Config("an override must end after it starts".into()));
        }
        if !self.config.person.iter().any(|p| p.id == o.person) {
            return Err(EngineError::Config(format!("no person {:?}", o.person)));
        }
        let u = self
            .config
            .unit
            .iter_mut()
            .find(|u| u.id == unit)
            .ok_or_else(|| EngineError::Config(format!("no unit {unit:?}")))?;
        u.schedule.add_override(o.clone());
        self.overrides.push((unit.to_string(), o));
        let mut report = TickReport::default();
        self.save(db, &[], &[], now, &mut report)
    }

    /// Swaps the shifts in force at `a` and `b` in a unit's schedule (two overrides, kept).
    pub fn swap(
        &mut self,
        db: &mut Db,
        unit: &str,
        a: DateTime<Utc>,
        b: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let u = self
            .config
            .unit
            .iter_mut()
            .find(|u| u.id == unit)
            .ok_or_else(|| EngineError::Config(format!("no unit {unit:?}")))?;
        let before = u.schedule.overrides.len();
        u.schedule.swap(a, b).map_err(EngineError::Config)?;
        let added: Vec<Override> = u.schedule.overrides[before..].to_vec();
        self.overrides.extend(added.into_iter().map(|o| (unit.to_string(), o)));
        let mut report = TickReport::default();
        self.save(db, &[], &[], now, &mut report)
    }

    fn save(
        &mut self,
        db: &mut Db,
        changed: &[i64],
        queue: &[NewNotification],
        now: DateTime<Utc>,
        report: &mut TickReport,
    ) -> Result<(), EngineError> {
        let (alerts, silences) = self.alerts.take_changes(now);
        let rows: Vec<AlertRow> = alerts.iter().map(alert_row).chain(self.archived.drain(..)).collect();
        let silences: Vec<(i64, DateTime<Utc>, String)> =
            silences.unwrap_or_default().iter().map(silence_row).collect();
        let escalations: Vec<(i64, String, Option<DateTime<Utc>>)> = changed
            .iter()
            .filter_map(|id| {
                self.escalations.get(id).map(|e| (*id, serde_json::to_string(e).unwrap_or_default(), e.next_at))
            })
            .collect();
        // Escalations of resolved alerts are done: they leave memory too (the store keeps them).
        let resolved: Vec<i64> = alerts.iter().filter(|a| a.state == State::Resolved).map(|a| a.id).collect();
        for id in &resolved {
            self.escalations.remove(id);
        }
        let extra = [
            ("overrides", serde_json::to_string(&self.overrides).unwrap_or_default()),
            ("handoffs_until", serde_json::to_string(&self.handoffs_until).unwrap_or_default()),
        ];
        report.queued += db.save_alerting(&rows, &silences, self.cursor, &extra, &escalations, queue, now)?;
        Ok(())
    }

    /// The notifications of one alert to one person, one per channel.
    fn notifications(
        &self,
        alert: &tidewatch_workflow::alerts::Alert,
        person: &str,
        tag: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Vec<NewNotification> {
        let Some(p) = self.config.person.iter().find(|x| x.id == person) else { return Vec::new() };
        let note = AlertNote {
            alert: alert.id,
            reason: reason.into(),
            severity: alert.severity.as_str().into(),
            title: alert.title.clone(),
            explanation: alert.details.clone(),
            story: alert.story.clone(),
            topic: alert.topic.clone(),
            unit: alert.unit.clone(),
            at: now,
        };
        let base = self.config.base_url.trim_end_matches('/');
        let ack =
            notify::ack_link(base, &self.key, alert.id, person, now + Duration::hours(self.config.ack_link_hours));
        let message = notify::render(&note, p.lang, &format!("{base}/#alert-{}", alert.id), &ack);
        p.channels
            .iter()
            .enumerate()
            .map(|(i, c)| NewNotification {
                key: format!("alert:{}:{tag}:{person}:{i}", alert.id),
                alert: alert.id,
                recipient: person.to_string(),
                channel: serde_json::to_string(c).unwrap_or_default(),
                subject: message.subject.clone(),
                body: message.body.clone(),
            })
            .collect()
    }

    /// Stops an alert's escalation (acknowledged or resolved by `who`) and saves.
    fn stop_escalation(&mut self, db: &mut Db, alert: i64, who: &str, now: DateTime<Utc>) -> Result<(), EngineError> {
        if let Some(e) = self.escalations.get_mut(&alert) {
            e.acknowledge(who, now);
        }
        let mut report = TickReport::default();
        self.save(db, &[alert], &[], now, &mut report)
    }

    /// An alert: from memory when not resolved, else from the store's archive.
    pub fn alert(&self, db: &Db, id: i64) -> Result<Option<Alert>, EngineError> {
        if let Some(a) = self.alerts.get(id) {
            return Ok(Some(a.clone()));
        }
        match db.alert(id)? {
            Some(json) => Ok(Some(
                serde_json::from_str(&json)
                    .map_err(|e| EngineError::Io(format!("stored alert {id} is unreadable: {e}")))?,
            )),
            None => Ok(None),
        }
    }

    /// An error for an alert not in memory: resolved (archived) or unknown.
    fn not_open(&self, db: &Db, id: i64) -> EngineError {
        match self.alert(db, id) {
            Ok(Some(_)) => EngineError::Config(format!("alert {id} is resolved")),
            Ok(None) => EngineError::NotFound(format!("no alert {id}")),
            Err(e) => e,
        }
    }

    /// Acknowledges an alert: its escalation stops.
    pub fn acknowledge(&mut self, db: &mut Db, alert: i64, who: &str, now: DateTime<Utc>) -> Result<(), EngineError> {
        if self.alerts.get(alert).is_none() {
            return Err(self.not_open(db, alert));
        }
        self.alerts.acknowledge(alert, who, now).map_err(EngineError::Config)?;
        self.stop_escalation(db, alert, who, now)
    }

    /// Acknowledges through a signed link.
    pub fn acknowledge_link(
        &mut self,
        db: &mut Db,
        alert: i64,
        who: &str,
        exp: i64,
        sig: &str,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        self.check_acknowledge_link(alert, who, exp, sig, now)?;
        self.acknowledge(db, alert, who, now)
    }

    /// Whether a signed acknowledge link is valid (signature, expiry), without acting on it.
    pub fn check_acknowledge_link(
        &self,
        alert: i64,
        who: &str,
        exp: i64,
        sig: &str,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        notify::verify_ack(&self.key, alert, who, exp, sig, now).map_err(EngineError::Config)
    }

    /// Replaces the people notifications go to (their channels and language), after an edit of
    /// the directory. People the rota or a policy names stay reachable: the store never deletes a
    /// person, and one missing from `people` keeps its earlier entry.
    pub fn set_people(&mut self, people: Vec<Person>) {
        for p in people {
            match self.config.person.iter_mut().find(|x| x.id == p.id) {
                Some(x) => *x = p,
                None => self.config.person.push(p),
            }
        }
    }

    /// Links an alert to the case opened from it: acknowledged by `who`, its escalation stopped.
    pub fn link_case(
        &mut self,
        db: &mut Db,
        alert: i64,
        case: i64,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        if self.alerts.get(alert).is_none() {
            // Resolved already (archived): link it in the store.
            let mut a = self.alert(db, alert)?.ok_or_else(|| EngineError::NotFound(format!("no alert {alert}")))?;
            if let Some(c) = a.case {
                return Err(EngineError::Config(format!("alert {alert} already has case {c}")));
            }
            a.case = Some(case);
            a.events.push(tidewatch_workflow::alerts::Event {
                at: now,
                what: format!("case {case} opened"),
                who: Some(who.into()),
            });
            self.archived.push(alert_row(&a));
            let mut report = TickReport::default();
            return self.save(db, &[], &[], now, &mut report);
        }
        self.alerts.link_case(alert, case, who, now).map_err(|e| {
            if e.starts_with("no alert") {
                EngineError::NotFound(e)
            } else {
                EngineError::Config(e)
            }
        })?;
        self.stop_escalation(db, alert, who, now)
    }

    /// The stories with an open case, the case and its severity: signals on them up to that
    /// severity update the case instead of alerting. Saved with the next change.
    pub fn set_open_cases(&mut self, open: impl IntoIterator<Item = (i64, i64, Severity)>) {
        self.alerts.open_cases = open.into_iter().map(|(story, case, sev)| (story.to_string(), (case, sev))).collect();
    }

    /// Resolves an alert.
    pub fn resolve_alert(&mut self, db: &mut Db, alert: i64, who: &str, now: DateTime<Utc>) -> Result<(), EngineError> {
        if self.alerts.get(alert).is_none() {
            // Resolving a resolved alert changes nothing.
            return match self.not_open(db, alert) {
                EngineError::Config(_) => Ok(()),
                e => Err(e),
            };
        }
        self.alerts.resolve(alert, who, now).map_err(EngineError::Config)?;
        self.stop_escalation(db, alert, who, now)
    }

    /// Escalates by hand, to the next step or to step `to`; queues its notifications.
    pub fn escalate(
        &mut self,
        db: &mut Db,
        alert: i64,
        who: &str,
        to: Option<usize>,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let Some(a) = self.alerts.get(alert).cloned() else { return Err(self.not_open(db, alert)) };
        let mut e = self
            .escalations
            .remove(&alert)
            .ok_or_else(|| EngineError::Config(format!("alert {alert} has no escalation")))?;
        let record = e.escalate(who, now, to, &|t, at| self.resolve(t, at));
        self.escalations.insert(alert, e);
        let record = record.map_err(EngineError::Config)?;
        let mut queue = Vec::new();
        if let Fired::Notified(people) = &record.fired {
            for p in people {
                queue.extend(self.notifications(
                    &a,
                    p,
                    &format!("manual-{}-s{}", now.timestamp_millis(), record.step),
                    "escalation",
                    now,
                ));
            }
        }
        let mut report = TickReport::default();
        self.save(db, &[alert], &queue, now, &mut report)
    }

    /// Adds a silence.
    pub fn silence(&mut self, db: &mut Db, mut s: Silence, now: DateTime<Utc>) -> Result<i64, EngineError> {
        s.id = self.next_silence;
        let id = s.id;
        self.alerts.silence(s).map_err(EngineError::Config)?;
        self.next_silence += 1;
        let mut report = TickReport::default();
        self.save(db, &[], &[], now, &mut report)?;
        Ok(id)
    }
}

fn reason_name(r: Reason) -> &'static str {
    match r {
        Reason::First => "first",
        Reason::Update => "update",
        Reason::Repeat => "repeat",
    }
}

/// What one delivery round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Delivered.
    pub sent: usize,
    /// Failed and will be retried.
    pub retrying: usize,
    /// Given up.
    pub failed: usize,
}

/// Sends the pending notifications that are due, recording each attempt.
pub fn deliver(
    db: &mut Db,
    retry: Retry,
    now: DateTime<Utc>,
    send: &dyn Fn(&Notification) -> Result<(), String>,
) -> Result<DeliveryReport, EngineError> {
    let mut report = DeliveryReport::default();
    for n in db.due_notifications(now, 200)? {
        match send(&n) {
            Ok(()) => {
                db.record_attempt(n.id, now, None, None)?;
                report.sent += 1;
                crate::metrics::METRICS.notifications_sent.add(1);
            }
            Err(e) if n.attempts + 1 < retry.max_attempts => {
                let wait = (retry.first_delay_seconds.max(1) << n.attempts.min(20)).min(retry.max_delay_seconds);
                db.record_attempt(n.id, now, Some(&e), Some(now + Duration::seconds(wait)))?;
                report.retrying += 1;
            }
            Err(e) => {
                db.record_attempt(n.id, now, Some(&format!("gave up after {} attempts: {e}", n.attempts + 1)), None)?;
                report.failed += 1;
                crate::metrics::METRICS.notifications_failed.add(1);
            }
        }
    }
    Ok(report)
}
