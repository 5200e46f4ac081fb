//! Cases, the timed module and the store side: opening cases, applying events, the deadline
//! clock, reviews and per-unit figures.
//!
//! Every change of a case goes through `tidewatch_workflow::cases::Case::apply`; [`Cases::act`]
//! loads the case, applies the event, and writes the case, its timeline lines, the notifications
//! it causes (the outbox), its evidence holds and the audit entry **in one transaction**.
//!
//! [`Cases::tick`] is the deadline module: it feeds later signals on a case's stories to the
//! case, and applies the clock ([`Event::Tick`]) to every case whose next moment has come —
//! reminders before a deadline, the miss and its escalation to the unit lead, the grade
//! escalation's steps, the volume check of conditional tasks. What a tick sent is recorded on
//! the case in the same transaction, and notifications have unique keys, so killing the server
//! and starting it again loses no reminder and sends none twice.
//!
//! `playbooks.toml` and `calendar.toml` in the data directory replace the built-in playbooks and
//! the default calendar; a file that does not parse or check is reported with its line and the
//! defaults stay in force.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use tidewatch_store::{CaseRow, CaseWrite, Db, NewAudit, NewNotification, UnitRow};
use tidewatch_workflow::calendar::{Calendar, Calendars};
use tidewatch_workflow::cases::{
    Case, Classification, Ctx, Directory, Effect, Event, Grade, Notice, Opening, Outcome, Playbooks, TaskState,
};
use tidewatch_workflow::notify::Language;

use crate::accounts::Actor;
use crate::EngineError;

/// The playbooks and calendars in force, and what was wrong with the files.
#[derive(Debug, Clone, Default)]
pub struct CasesConfig {
    /// Playbooks (built in unless `playbooks.toml` is valid).
    pub playbooks: Playbooks,
    /// Calendars (the default unless `calendar.toml` is valid).
    pub calendars: Calendars,
    /// Problems found in the files, each naming the file, line and reason.
    pub problems: Vec<String>,
}

/// `calendar.toml`: the default calendar at the top, units that differ under `[unit."…"]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    zone: Option<chrono_tz::Tz>,
    opens: Option<NaiveTime>,
    closes: Option<NaiveTime>,
    weekend: Option<Vec<Weekday>>,
    holidays: Option<Vec<NaiveDate>>,
    workdays: Option<Vec<NaiveDate>>,
    #[serde(default)]
    unit: BTreeMap<String, UnitCalendar>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitCalendar {
    zone: Option<chrono_tz::Tz>,
    opens: Option<NaiveTime>,
    closes: Option<NaiveTime>,
    weekend: Option<Vec<Weekday>>,
    holidays: Option<Vec<NaiveDate>>,
    workdays: Option<Vec<NaiveDate>>,
}

impl UnitCalendar {
    fn over(self, base: &Calendar) -> Calendar {
        Calendar {
            zone: self.zone.unwrap_or(base.zone),
            opens: self.opens.unwrap_or(base.opens),
            closes: self.closes.unwrap_or(base.closes),
            weekend: self.weekend.unwrap_or_else(|| base.weekend.clone()),
            holidays: self.holidays.map(|h| h.into_iter().collect()).unwrap_or_else(|| base.holidays.clone()),
            workdays: self.workdays.map(|h| h.into_iter().collect()).unwrap_or_else(|| base.workdays.clone()),
        }
    }
}

/// Parses `playbooks.toml`: every playbook it names replaces the built-in one of its
/// classification; the others stay.
pub fn parse_playbooks(text: &str) -> Result<Playbooks, String> {
    let mut p: Playbooks = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
    let defaults = Playbooks::default();
    for d in defaults.playbooks {
        if !p.playbooks.iter().any(|x| x.classification == d.classification) {
            p.playbooks.push(d);
        }
    }
    p.check()?;
    Ok(p)
}

/// Parses `calendar.toml`.
pub fn parse_calendar(text: &str) -> Result<Calendars, String> {
    let f: CalendarFile = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
    let top = UnitCalendar {
        zone: f.zone,
        opens: f.opens,
        closes: f.closes,
        weekend: f.weekend,
        holidays: f.holidays,
        workdays: f.workdays,
    };
    let default = top.over(&Calendar::default());
    default.check()?;
    let mut units = std::collections::HashMap::new();
    for (name, u) in f.unit {
        let c = u.over(&default);
        c.check().map_err(|e| format!("unit {name}: {e}"))?;
        units.insert(name, c);
    }
    Ok(Calendars { default, units })
}

impl CasesConfig {
    /// Reads `playbooks.toml` and `calendar.toml` from `dir` (each optional).
    pub fn load(dir: &Path) -> CasesConfig {
        let mut c = CasesConfig::default();
        let read = |name: &str| -> Option<Result<String, String>> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(t) => Some(Ok(t)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => Some(Err(e.to_string())),
            }
        };
        match read("playbooks.toml").map(|t| t.and_then(|t| parse_playbooks(&t))) {
            Some(Ok(p)) => c.playbooks = p,
            Some(Err(e)) => c.problems.push(format!("playbooks.toml: {e}; the built-in playbooks stay in force")),
            None => {}
        }
        match read("calendar.toml").map(|t| t.and_then(|t| parse_calendar(&t))) {
            Some(Ok(cal)) => c.calendars = cal,
            Some(Err(e)) => c.problems.push(format!("calendar.toml: {e}; the default calendar stays in force")),
            None => {}
        }
        c
    }
}

/// Units and people from the store, as the state machine asks for them.
pub struct StoreDirectory {
    units: Vec<UnitRow>,
    people: HashSet<String>,
}

impl StoreDirectory {
    /// Reads the directory.
    pub fn read(db: &Db) -> Result<StoreDirectory, EngineError> {
        Ok(StoreDirectory { units: db.units()?, people: db.people()?.into_iter().map(|p| p.id).collect() })
    }
}

impl Directory for StoreDirectory {
    fn lead(&self, unit: &str) -> Option<String> {
        let u = self.units.iter().find(|u| u.id == unit)?;
        u.direct_responsible.clone().or_else(|| u.first_responsible.clone())
    }
    fn first_responsible(&self, unit: &str) -> Option<String> {
        self.units.iter().find(|u| u.id == unit)?.first_responsible.clone()
    }
    fn root(&self) -> Option<String> {
        let roots: Vec<&UnitRow> = self.units.iter().filter(|u| u.parent.is_none()).collect();
        (roots.len() == 1).then(|| roots[0].id.clone())
    }
    fn has_person(&self, id: &str) -> bool {
        self.people.contains(id)
    }
}

/// What one tick of the deadline module did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Cases the clock was applied to.
    pub cases: usize,
    /// Timeline lines written.
    pub entries: usize,
    /// Notifications queued.
    pub notifications: usize,
    /// Later signals fed to cases.
    pub signals: usize,
}

/// The cases module.
#[derive(Debug)]
pub struct Cases {
    config: CasesConfig,
    base_url: String,
    /// The highest signal id looked at for open cases' stories.
    seen_signal: std::sync::atomic::AtomicI64,
}

/// A case as the API shows it: the case and when its deadline module next looks at it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CaseView {
    /// The case.
    #[serde(flatten)]
    pub case: Case,
    /// Open tasks past their deadline now.
    pub overdue: Vec<String>,
}

fn parse_case(row: &CaseRow) -> Result<Case, EngineError> {
    serde_json::from_str(&row.data).map_err(|e| EngineError::Io(format!("stored case {} is unreadable: {e}", row.id)))
}

impl Cases {
    /// The module with `config`; links in messages start with `base_url`.
    pub fn new(config: CasesConfig, base_url: &str) -> Cases {
        Cases { config, base_url: base_url.trim_end_matches('/').to_string(), seen_signal: 0.into() }
    }

    /// The configuration in force.
    pub fn config(&self) -> &CasesConfig {
        &self.config
    }

    /// A case by id.
    pub fn load(db: &Db, id: i64) -> Result<Case, EngineError> {
        let row = db.case(id)?.ok_or_else(|| EngineError::NotFound(format!("no case {id}")))?;
        parse_case(&row)
    }

    fn ctx<'a>(&'a self, now: DateTime<Utc>, who: Option<&'a str>, dir: &'a StoreDirectory) -> Ctx<'a> {
        Ctx { now, who, calendars: &self.config.calendars, playbooks: &self.config.playbooks, directory: dir }
    }

    /// Opens a case; returns it.
    pub fn open_case(
        &self,
        db: &mut Db,
        actor: &Actor,
        address: Option<&str>,
        opening: Opening,
        now: DateTime<Utc>,
    ) -> Result<Case, EngineError> {
        let dir = StoreDirectory::read(db)?;
        for (kind, id) in &opening.evidence {
            self.check_evidence(db, *kind, *id)?;
        }
        let id = db.next_case_id()?;
        let ctx = self.ctx(now, Some(&actor.username), &dir);
        let (case, out) = Case::open(id, opening, &ctx).map_err(EngineError::Case)?;
        let audit =
            NewAudit::new(&actor.username, address, "case.open", &format!("case:{id}")).with(serde_json::json!({
                "title": case.title, "unit": case.unit, "alert": case.alert, "evidence": case.evidence.len(),
            }));
        self.write(db, &case, &out, Some(audit), now)?;
        Ok(case)
    }

    fn check_evidence(
        &self,
        db: &Db,
        kind: tidewatch_workflow::cases::EvidenceKind,
        id: i64,
    ) -> Result<(), EngineError> {
        let exists = match kind {
            tidewatch_workflow::cases::EvidenceKind::Item => db.item_exists(tidewatch_model::ItemId(id))?,
            tidewatch_workflow::cases::EvidenceKind::Story => db.story(id)?.is_some(),
        };
        if exists {
            Ok(())
        } else {
            Err(EngineError::NotFound(format!(
                "no {} {id}",
                if matches!(kind, tidewatch_workflow::cases::EvidenceKind::Item) { "item" } else { "story" }
            )))
        }
    }

    /// Applies `event` to case `id` as `actor`, writing the change with its audit entry.
    pub fn act(
        &self,
        db: &mut Db,
        actor: &Actor,
        address: Option<&str>,
        id: i64,
        event: Event,
        now: DateTime<Utc>,
    ) -> Result<Case, EngineError> {
        let mut case = Cases::load(db, id)?;
        if let Event::AddEvidence { kind, id } = &event {
            self.check_evidence(db, *kind, *id)?;
        }
        let mut event = event;
        if let Event::SubmitReview(notes) = &mut event {
            for (i, a) in notes.actions.iter_mut().enumerate() {
                a.backtest = match (&a.topic, &a.rule) {
                    (Some(t), Some(r)) => Some(proposal_backtest(db, i, t, r, now)?),
                    _ => None,
                };
            }
        }
        let dir = StoreDirectory::read(db)?;
        let name = event.name();
        let detail = audit_detail(&event);
        let before = case.state;
        let out = self.apply(db, &mut case, event, &self.ctx(now, Some(&actor.username), &dir))?;
        let audit = NewAudit::new(&actor.username, address, &format!("case.{name}"), &format!("case:{id}")).with(
            serde_json::json!({"before": before.as_str(), "after": case.state.as_str(), "unit": case.unit, "detail": detail}),
        );
        self.write(db, &case, &out, Some(audit), now)?;
        Ok(case)
    }

    /// Applies an event and answers the volume checks it asks for.
    fn apply(&self, db: &Db, case: &mut Case, event: Event, ctx: &Ctx<'_>) -> Result<Outcome, EngineError> {
        let mut out = case.apply(event, ctx).map_err(EngineError::Case)?;
        for _ in 0..8 {
            let checks: Vec<Effect> =
                out.effects.iter().filter(|e| matches!(e, Effect::CheckVolume { .. })).cloned().collect();
            if checks.is_empty() {
                break;
            }
            out.effects.retain(|e| !matches!(e, Effect::CheckVolume { .. }));
            for c in checks {
                let Effect::CheckVolume { task, before, at, after } = c else { continue };
                let (mut b, mut a) = (0, 0);
                for s in case.stories() {
                    b += db.story_items_between(s, before, at)?;
                    a += db.story_items_between(s, at, after)?;
                }
                let more =
                    case.apply(Event::VolumeChecked { task, before: b, after: a }, ctx).map_err(EngineError::Case)?;
                out.entries.extend(more.entries);
                out.effects.extend(more.effects);
            }
        }
        Ok(out)
    }

    /// Writes a case and what its outcome causes, in one transaction.
    fn write(
        &self,
        db: &mut Db,
        case: &Case,
        out: &Outcome,
        audit: Option<NewAudit>,
        now: DateTime<Utc>,
    ) -> Result<usize, EngineError> {
        let data = serde_json::to_string(case).map_err(|e| EngineError::Io(e.to_string()))?;
        let earliest_due = case
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Open && case.state.is_open())
            .filter_map(|t| t.due_at)
            .min();
        let row = CaseRow {
            id: case.id,
            state: case.state.as_str().into(),
            grade: case.grade().map(|g| g.as_str().to_string()),
            classification: case.classification().map(|c| c.as_str().to_string()),
            unit: case.unit.clone(),
            owner: case.owner.clone(),
            alert: case.alert,
            title: case.title.clone(),
            opened_at: case.opened_at,
            closed_at: case.closed_at,
            next_due: case.next_due(&self.config.playbooks.reminders),
            earliest_due,
            data,
        };
        let people = crate::accounts::people_for_alerting(db)?;
        let mut w = CaseWrite { row: Some(&row), audit, ..CaseWrite::default() };
        for e in &out.entries {
            w.entries.push((e.at, e.who.clone(), e.kind.clone(), e.detail.to_string()));
        }
        for eff in &out.effects {
            match eff {
                Effect::Notify { key, to, notice } => {
                    for person in to {
                        let Some(p) = people.iter().find(|p| &p.id == person) else { continue };
                        let (subject, body) = self.render(case, notice, p.lang);
                        for (i, c) in p.channels.iter().enumerate() {
                            w.notifications.push(NewNotification {
                                key: format!("{key}:{person}:{i}"),
                                alert: 0,
                                recipient: person.clone(),
                                channel: serde_json::to_string(c).unwrap_or_default(),
                                subject: subject.clone(),
                                body: body.clone(),
                            });
                        }
                    }
                }
                Effect::Hold(item) => w.holds.push(*item),
                Effect::ReleaseHolds => w.release = true,
                Effect::CheckVolume { .. } => {}
            }
        }
        let n = w.notifications.len();
        db.write_case(&w, now)?;
        Ok(n)
    }

    /// The subject and body of a notice about `case`.
    fn render(&self, case: &Case, notice: &Notice, lang: Language) -> (String, String) {
        let link = format!("{}/#case-{}", self.base_url, case.id);
        let task_title = |id: &str| {
            case.tasks
                .iter()
                .find(|t| t.id() == id)
                .map(|t| match lang {
                    Language::Zh => t.title.clone(),
                    Language::En if !t.title_en.is_empty() => t.title_en.clone(),
                    Language::En => t.title.clone(),
                })
                .unwrap_or_else(|| id.to_string())
        };
        let local = |t: &DateTime<Utc>| {
            t.with_timezone(&self.config.calendars.of(&case.unit).zone).format("%Y-%m-%d %H:%M %Z").to_string()
        };
        let (subject, line) = match (lang, notice) {
            (Language::Zh, Notice::Grade { grade, .. }) => (
                format!("[{}级 {}] 事件 #{}：{}", grade.as_str(), grade.name_zh(), case.id, case.title),
                format!("事件已定为{}级（{}），请领导小组知悉并确认。", grade.as_str(), grade.name_zh()),
            ),
            (Language::En, Notice::Grade { grade, .. }) => (
                format!("[Grade {}] Case #{}: {}", grade.as_str(), case.id, case.title),
                format!("The case is graded {}; the leading group is asked to acknowledge.", grade.as_str()),
            ),
            (Language::Zh, Notice::Reminder { task, due_at, .. }) => (
                format!("[提醒] 事件 #{} 任务将于 {} 到期", case.id, local(due_at)),
                format!("任务「{}」将于 {} 到期。", task_title(task), local(due_at)),
            ),
            (Language::En, Notice::Reminder { task, due_at, .. }) => (
                format!("[Reminder] Case #{}: a task is due {}", case.id, local(due_at)),
                format!("Task \"{}\" is due {}.", task_title(task), local(due_at)),
            ),
            (Language::Zh, Notice::Missed { task, due_at }) => (
                format!("[逾期] 事件 #{} 任务已逾期", case.id),
                format!("任务「{}」已于 {} 逾期，现升级至单位负责人。", task_title(task), local(due_at)),
            ),
            (Language::En, Notice::Missed { task, due_at }) => (
                format!("[Overdue] Case #{}: a task missed its deadline", case.id),
                format!("Task \"{}\" was due {}; escalated to the unit lead.", task_title(task), local(due_at)),
            ),
            (Language::Zh, Notice::Assigned { task, due_at }) => (
                format!("[任务] 事件 #{}：{}", case.id, task_title(task)),
                format!(
                    "您有一项任务「{}」{}。",
                    task_title(task),
                    due_at.map(|d| format!("，期限 {}", local(&d))).unwrap_or_default()
                ),
            ),
            (Language::En, Notice::Assigned { task, due_at }) => (
                format!("[Task] Case #{}: {}", case.id, task_title(task)),
                format!(
                    "You have a task: \"{}\"{}.",
                    task_title(task),
                    due_at.map(|d| format!(", due {}", local(&d))).unwrap_or_default()
                ),
            ),
        };
        let body = match lang {
            Language::Zh => format!("{line}\n事件：{}\n责任单位：{}\n查看：{link}\n", case.title, case.unit),
            Language::En => format!("{line}\nCase: {}\nOwner unit: {}\nOpen: {link}\n", case.title, case.unit),
        };
        (subject, body)
    }

    /// The deadline module at `now`: later signals on open cases' stories, then the clock on
    /// every case with something due. Safe to run twice for the same moment.
    pub fn tick(&self, db: &mut Db, now: DateTime<Utc>) -> Result<TickReport, EngineError> {
        let mut report = TickReport::default();
        let dir = StoreDirectory::read(db)?;
        let newest = db.max_signal_id()?;
        if newest > self.seen_signal.load(std::sync::atomic::Ordering::Relaxed) {
            for row in db.open_cases()? {
                let mut case = parse_case(&row)?;
                let stories = case.stories();
                let signals = db.signals_on_stories(&stories, case.last_signal, 100)?;
                if signals.is_empty() {
                    continue;
                }
                let mut out = Outcome::default();
                for s in signals {
                    let severity = tidewatch_workflow::alerts::Severity::parse(&s.severity)
                        .unwrap_or(tidewatch_workflow::alerts::Severity::Medium);
                    let o = case
                        .apply(Event::Signal { id: s.id, severity, title: s.title }, &self.ctx(now, None, &dir))
                        .map_err(EngineError::Case)?;
                    out.entries.extend(o.entries);
                    report.signals += 1;
                }
                report.entries += out.entries.len();
                self.write(db, &case, &out, None, now)?;
            }
            self.seen_signal.store(newest, std::sync::atomic::Ordering::Relaxed);
        }
        for row in db.cases_due(now, 200)? {
            let mut case = parse_case(&row)?;
            let out = self.apply(db, &mut case, Event::Tick, &self.ctx(now, None, &dir))?;
            report.cases += 1;
            report.entries += out.entries.len();
            report.notifications += self.write(db, &case, &out, None, now)?;
        }
        Ok(report)
    }

    /// The stories of open cases and their severity (what alerting inhibits).
    pub fn open_stories(db: &Db) -> Result<Vec<(i64, i64, tidewatch_workflow::alerts::Severity)>, EngineError> {
        let mut out = Vec::new();
        for row in db.open_cases()? {
            let case = parse_case(&row)?;
            for s in case.stories() {
                out.push((s, case.id, case.severity));
            }
        }
        Ok(out)
    }
}

/// The backtest of a rule proposed by follow-up action `i`: the draft against the topic's
/// current rule over the last 30 days. A rule that does not parse, or a topic that does not
/// exist, is refused with the reason.
pub fn proposal_backtest(
    db: &Db,
    i: usize,
    topic: &str,
    rule: &str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, EngineError> {
    let field = |m: String| EngineError::Case(tidewatch_workflow::cases::CaseError::Field("action", m));
    let current = db.topic(topic)?.ok_or_else(|| field(format!("action {i}: no topic {topic:?}")))?;
    let (draft, _) = crate::topics::check_rule(topic, rule)
        .map_err(|d| field(format!("action {i}: rule: {} (column {})", d.message, d.column.unwrap_or(0))))?;
    let zone = chrono_tz::Asia::Shanghai;
    let proposed = crate::topics::backtest(db, &draft, 30, now, zone, 3)?;
    let before = match crate::topics::check_rule(topic, &current.def.rule) {
        Ok((node, _)) => Some(crate::topics::backtest(db, &node, 30, now, zone, 0)?),
        Err(_) => None,
    };
    Ok(serde_json::json!({
        "days": 30,
        "scanned": proposed.scanned,
        "hits": proposed.hits,
        "current_rule": current.def.rule,
        "current_version": current.version,
        "current_hits": before.map(|b| b.hits),
        "samples": proposed.samples.iter().map(|(item, _)| serde_json::json!({"id": item.id.0, "title": item.item.title})).collect::<Vec<_>>(),
    }))
}

fn audit_detail(e: &Event) -> serde_json::Value {
    match e {
        Event::Assess { grade, .. } => serde_json::json!({"grade": grade.as_str()}),
        Event::Classify { classification, reason } => {
            serde_json::json!({"classification": classification.as_str(), "reason": reason})
        }
        Event::CompleteTask { task, promised_by, decision, .. } => {
            serde_json::json!({"task": task, "promised_by": promised_by, "decision": decision})
        }
        Event::ReassignTask { task, to } => serde_json::json!({"task": task, "to": to}),
        Event::AddEvidence { kind, id } | Event::RemoveEvidence { kind, id } => {
            serde_json::json!({"kind": kind, "id": id})
        }
        Event::Update { title, owner, participants } => {
            serde_json::json!({"title": title, "owner": owner, "participants": participants})
        }
        Event::Reopen { reason } => serde_json::json!({"reason": reason}),
        Event::DecideProposal { action, accept, reason } => {
            serde_json::json!({"action": action, "accept": accept, "reason": reason})
        }
        _ => serde_json::Value::Null,
    }
}

// ---- the review ----

/// Minutes between two moments, when both are known.
fn minutes(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<i64> {
    Some((to? - from?).num_minutes())
}

/// One hour of the stories' volume and sentiment.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct HourPoint {
    /// The hour's start.
    pub hour: DateTime<Utc>,
    /// Items published in it.
    pub items: i64,
    /// Their mean sentiment score (-1 … 1).
    pub sentiment: f64,
}

/// The generated part of a review (总结评估), computed from the timeline and the data.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReviewFigures {
    /// First item published.
    pub first_item_at: Option<DateTime<Utc>>,
    /// First signal on its stories.
    pub first_signal_at: Option<DateTime<Utc>>,
    /// Minutes from the first item to the first signal (time to detect).
    pub minutes_to_detect: Option<i64>,
    /// From detection (the alert) to the case opened (time to acknowledge).
    pub minutes_to_acknowledge: Option<i64>,
    /// From opening to the first report.
    pub minutes_to_first_report: Option<i64>,
    /// From opening to the first grade.
    pub minutes_to_grade: Option<i64>,
    /// From opening to the first response published (an answer, publication or clarification).
    pub minutes_to_first_response: Option<i64>,
    /// From opening to the (first) close.
    pub minutes_to_close: Option<i64>,
    /// When the first response went out.
    pub first_response_at: Option<DateTime<Utc>>,
    /// Hourly volume and sentiment of its stories in the 24 hours before the first response.
    pub before_response: Vec<HourPoint>,
    /// … and in the 24 hours after.
    pub after_response: Vec<HourPoint>,
    /// Deadlines met.
    pub deadlines_met: usize,
    /// Deadlines missed.
    pub deadlines_missed: usize,
    /// The case's claims: supporting and denying items before and after each clarification.
    pub claims: Vec<ClaimReview>,
}

/// A claim in a review.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ClaimReview {
    /// The claim.
    pub id: i64,
    /// Its text.
    pub text: String,
    /// Its status.
    pub status: tidewatch_workflow::claims::ClaimStatus,
    /// Supporting and denying items per hour, 24 h each side of its clarification.
    pub effect: Option<tidewatch_workflow::claims::ClarificationEffect>,
}

/// The first published response of the case (`responses`), if any.
fn first_publication(db: &Db, case: i64) -> Result<Option<DateTime<Utc>>, EngineError> {
    let mut best: Option<DateTime<Utc>> = None;
    for json in db.responses_of_case(case)? {
        let r: tidewatch_workflow::responses::Response =
            serde_json::from_str(&json).map_err(|e| EngineError::Io(format!("stored response is unreadable: {e}")))?;
        if let Some(t) = r.publications.iter().map(|p| p.at).min() {
            best = Some(best.map_or(t, |b| b.min(t)));
        }
    }
    Ok(best)
}

fn first_response(case: &Case) -> Option<DateTime<Utc>> {
    case.tasks.iter().filter(|t| t.kind.is_response() && t.state == TaskState::Done).filter_map(|t| t.done_at).min()
}

fn deadline_counts(case: &Case) -> (usize, usize) {
    let met =
        case.tasks.iter().filter(|t| t.state == TaskState::Done && t.missed_at.is_none() && t.due_at.is_some()).count();
    let missed = case.tasks.iter().filter(|t| t.missed_at.is_some()).count();
    (met, missed)
}

fn hourly(db: &Db, stories: &[i64], from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<HourPoint>, EngineError> {
    let mut by_hour: BTreeMap<DateTime<Utc>, (i64, f64)> = BTreeMap::new();
    for s in stories {
        for (h, n, mean) in db.story_sentiment_hourly(*s, from, to)? {
            let e = by_hour.entry(h).or_default();
            e.0 += n;
            e.1 += mean * n as f64;
        }
    }
    Ok(by_hour
        .into_iter()
        .map(|(hour, (items, sum))| HourPoint {
            hour,
            items,
            sentiment: if items > 0 { (sum / items as f64 * 1000.0).round() / 1000.0 } else { 0.0 },
        })
        .collect())
}

/// The review's figures for `case`.
pub fn review_figures(db: &Db, case: &Case) -> Result<ReviewFigures, EngineError> {
    let items: Vec<i64> = case
        .evidence
        .iter()
        .filter(|e| e.kind == tidewatch_workflow::cases::EvidenceKind::Item)
        .map(|e| e.id)
        .collect();
    let stories = case.stories();
    let first_item_at = db.first_published(&items, &stories)?;
    let first_signal_at = db.first_signal_on(&stories)?.or(case.detected_at);
    let response = match (first_response(case), first_publication(db, case.id)?) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut claims = Vec::new();
    for json in db.claims_of_case(case.id)? {
        let c: tidewatch_workflow::claims::Claim =
            serde_json::from_str(&json).map_err(|e| EngineError::Io(format!("stored claim is unreadable: {e}")))?;
        claims.push(ClaimReview { id: c.id, text: c.text.clone(), status: c.status, effect: c.effect(24) });
    }
    let (before_response, after_response) = match response {
        Some(r) => {
            (hourly(db, &stories, r - Duration::hours(24), r)?, hourly(db, &stories, r, r + Duration::hours(24))?)
        }
        None => (Vec::new(), Vec::new()),
    };
    let (met, missed) = deadline_counts(case);
    Ok(ReviewFigures {
        first_item_at,
        first_signal_at,
        minutes_to_detect: minutes(first_item_at, first_signal_at),
        minutes_to_acknowledge: minutes(case.detected_at, Some(case.opened_at)),
        minutes_to_first_report: minutes(Some(case.opened_at), case.reports.first().map(|r| r.at)),
        minutes_to_grade: minutes(Some(case.opened_at), case.grades.first().map(|g| g.at)),
        minutes_to_first_response: minutes(Some(case.opened_at), response),
        minutes_to_close: minutes(Some(case.opened_at), case.first_closed_at),
        first_response_at: response,
        before_response,
        after_response,
        deadlines_met: met,
        deadlines_missed: missed,
        claims,
    })
}

// ---- per-unit figures (考核) ----

/// One unit's figures for a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct UnitFigures {
    /// The unit.
    pub unit: String,
    /// Cases opened in the period.
    pub cases: usize,
    /// By grade (`IV` … `I`, `ungraded`).
    pub by_grade: BTreeMap<String, usize>,
    /// By classification (`unclassified` included).
    pub by_classification: BTreeMap<String, usize>,
    /// Deadlines met.
    pub deadlines_met: usize,
    /// Deadlines missed.
    pub deadlines_missed: usize,
    /// Met as a percentage of met + missed (`None` without deadlines).
    pub deadlines_met_pct: Option<f64>,
    /// Median and 90th percentile of minutes to acknowledge.
    pub acknowledge_minutes: Percentiles,
    /// … to the first response.
    pub first_response_minutes: Percentiles,
    /// … to close.
    pub close_minutes: Percentiles,
    /// Reviews approved.
    pub reviews_done: usize,
}

/// Median and 90th percentile (nearest rank) of a set of minutes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Percentiles {
    /// How many values.
    pub n: usize,
    /// Median (the mean of the two middle values for an even count).
    pub median: Option<f64>,
    /// 90th percentile, nearest rank.
    pub p90: Option<i64>,
}

impl Percentiles {
    /// Of these values.
    pub fn of(mut v: Vec<i64>) -> Percentiles {
        v.sort_unstable();
        let n = v.len();
        if n == 0 {
            return Percentiles::default();
        }
        let median = if n % 2 == 1 { v[n / 2] as f64 } else { (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0 };
        let rank = ((0.9 * n as f64).ceil() as usize).clamp(1, n);
        Percentiles { n, median: Some(median), p90: Some(v[rank - 1]) }
    }
}

/// Figures per unit for cases opened in `[from, to)`, units in name order.
pub fn unit_figures(db: &Db, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<UnitFigures>, EngineError> {
    let mut rows = Vec::new();
    let mut before = None;
    loop {
        let f =
            tidewatch_store::CaseFilter { from: Some(from), to: Some(to), before, limit: 500, ..Default::default() };
        let page = db.cases(&f)?;
        let done = page.len() < 500;
        before = page.last().map(|r| r.id);
        rows.extend(page);
        if done {
            break;
        }
    }
    // Per unit: the figures and the minutes to acknowledge, to first response, to close.
    type Acc = (UnitFigures, Vec<i64>, Vec<i64>, Vec<i64>);
    let mut by_unit: BTreeMap<String, Acc> = BTreeMap::new();
    for row in rows {
        let case = parse_case(&row)?;
        let e = by_unit.entry(case.unit.clone()).or_insert_with(|| {
            (UnitFigures { unit: case.unit.clone(), ..UnitFigures::default() }, Vec::new(), Vec::new(), Vec::new())
        });
        let f = &mut e.0;
        f.cases += 1;
        *f.by_grade.entry(case.grade().map(Grade::as_str).unwrap_or("ungraded").to_string()).or_default() += 1;
        *f.by_classification
            .entry(case.classification().map(Classification::as_str).unwrap_or("unclassified").to_string())
            .or_default() += 1;
        let (met, missed) = deadline_counts(&case);
        f.deadlines_met += met;
        f.deadlines_missed += missed;
        if case.review.as_ref().is_some_and(|r| r.approved.is_some()) {
            f.reviews_done += 1;
        }
        if let Some(m) = minutes(case.detected_at, Some(case.opened_at)) {
            e.1.push(m);
        }
        let response = match (first_response(&case), first_publication(db, case.id)?) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(m) = minutes(Some(case.opened_at), response) {
            e.2.push(m);
        }
        if let Some(m) = minutes(Some(case.opened_at), case.first_closed_at) {
            e.3.push(m);
        }
    }
    Ok(by_unit
        .into_values()
        .map(|(mut f, ack, resp, close)| {
            let total = f.deadlines_met + f.deadlines_missed;
            f.deadlines_met_pct = (total > 0).then(|| (f.deadlines_met as f64 * 1000.0 / total as f64).round() / 10.0);
            f.acknowledge_minutes = Percentiles::of(ack);
            f.first_response_minutes = Percentiles::of(resp);
            f.close_minutes = Percentiles::of(close);
            f
        })
        .collect())
}

/// The local year `[start, end)` in Asia/Shanghai.
pub fn year_bounds(year: i32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    use chrono::TimeZone;
    let z = chrono_tz::Asia::Shanghai;
    let start = z.with_ymd_and_hms(year, 1, 1, 0, 0, 0).single()?.with_timezone(&Utc);
    let end = z.with_ymd_and_hms(year + 1, 1, 1, 0, 0, 0).single()?.with_timezone(&Utc);
    Some((start, end))
}
