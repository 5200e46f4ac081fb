//! The case state machine: every (state, event) pair against the documented table, the
//! invariants under any sequence of events, and the deadlines of the built-in playbooks on a
//! controlled clock (a same-day answer across midnight in Asia/Shanghai, working days across a
//! weekend, a holiday and an adjusted working day).

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use std::collections::HashMap;
use tidewatch_workflow::calendar::Calendars;
use tidewatch_workflow::cases::*;

struct Dir {
    leads: HashMap<&'static str, &'static str>,
    first: HashMap<&'static str, &'static str>,
}

impl Directory for Dir {
    fn lead(&self, unit: &str) -> Option<String> {
        self.leads.get(unit).map(|s| s.to_string())
    }
    fn first_responsible(&self, unit: &str) -> Option<String> {
        self.first.get(unit).map(|s| s.to_string())
    }
    fn root(&self) -> Option<String> {
        Some("领导小组".into())
    }
    fn has_person(&self, id: &str) -> bool {
        ["wang", "li", "zhao", "chen", "officer"].contains(&id)
    }
}

fn dir() -> Dir {
    Dir {
        leads: HashMap::from([("后勤集团", "li"), ("领导小组", "zhao")]),
        first: HashMap::from([("后勤集团", "wang"), ("领导小组", "chen")]),
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T02:00:00Z").unwrap().with_timezone(&Utc)
}

struct World {
    dir: Dir,
    calendars: Calendars,
    playbooks: Playbooks,
}

impl World {
    fn new() -> World {
        World { dir: dir(), calendars: Calendars::default(), playbooks: Playbooks::default() }
    }
    fn ctx(&self, now: DateTime<Utc>) -> Ctx<'_> {
        Ctx { now, who: Some("tester"), calendars: &self.calendars, playbooks: &self.playbooks, directory: &self.dir }
    }
}

fn report() -> Event {
    Event::Report(ReportBody { development: "食堂饭菜质量投诉在微博扩散".into(), ..ReportBody::default() })
}

fn opening() -> Opening {
    Opening {
        title: "食堂投诉".into(),
        unit: "后勤集团".into(),
        owner: Some("officer".into()),
        alert: Some(7),
        severity: None,
        detected_at: None,
        signals_before: 0,
        evidence: vec![(EvidenceKind::Item, 1), (EvidenceKind::Story, 5)],
    }
}

/// A case brought to `state` by the shortest path.
fn case_in(w: &World, state: CaseState) -> Case {
    let (mut c, _) = Case::open(1, opening(), &w.ctx(t0())).unwrap();
    let path: Vec<Event> = match state {
        CaseState::New => vec![],
        CaseState::Assessing => vec![report()],
        CaseState::Handling => vec![
            report(),
            Event::Assess { grade: Grade::II, assessment: "扩散快".into() },
            Event::Classify { classification: Classification::Hype, reason: String::new() },
        ],
        CaseState::Monitoring => vec![
            report(),
            Event::Assess { grade: Grade::II, assessment: "扩散快".into() },
            Event::Classify { classification: Classification::Hype, reason: String::new() },
            done("publish_facts"),
            Event::Monitor,
        ],
        CaseState::Closed => vec![
            report(),
            Event::Assess { grade: Grade::III, assessment: "关注".into() },
            Event::Classify { classification: Classification::Hype, reason: String::new() },
            done("publish_facts"),
            Event::Close { summary: "平息".into() },
        ],
        CaseState::Reviewed => vec![
            report(),
            Event::Close { summary: "误报".into() },
            Event::SubmitReview(ReviewNotes { worked: "及时".into(), ..ReviewNotes::default() }),
            Event::ApproveReview,
        ],
    };
    for e in path {
        c.apply(e, &w.ctx(t0() + Duration::minutes(10))).unwrap();
    }
    assert_eq!(c.state, state);
    c
}

fn done(task: &str) -> Event {
    Event::CompleteTask { task: task.into(), note: "已发布".into(), promised_by: None, decision: None }
}

/// The events of the table, by name.
fn events() -> Vec<(&'static str, Event)> {
    vec![
        ("report", report()),
        ("assess", Event::Assess { grade: Grade::III, assessment: "关注".into() }),
        ("classify", Event::Classify { classification: Classification::Hype, reason: String::new() }),
        ("complete", done("publish_facts")),
        ("reassign", Event::ReassignTask { task: "publish_facts".into(), to: "wang".into() }),
        ("acknowledge", Event::Acknowledge),
        ("add_evidence", Event::AddEvidence { kind: EvidenceKind::Item, id: 99 }),
        ("remove_evidence", Event::RemoveEvidence { kind: EvidenceKind::Item, id: 1 }),
        ("signal", Event::Signal { id: 40, severity: tidewatch_workflow::alerts::Severity::High, title: "s".into() }),
        ("update", Event::Update { title: Some("食堂投诉（续）".into()), owner: None, participants: None }),
        ("monitor", Event::Monitor),
        ("close", Event::Close { summary: "平息".into() }),
        ("reopen", Event::Reopen { reason: "再起".into() }),
        ("submit_review", Event::SubmitReview(ReviewNotes { lessons: "早报".into(), ..ReviewNotes::default() })),
        ("approve_review", Event::ApproveReview),
        ("tick", Event::Tick),
        ("volume_checked", Event::VolumeChecked { task: "refer_discipline".into(), before: 3, after: 5 }),
        ("decide_proposal", Event::DecideProposal { action: 0, accept: true, reason: String::new() }),
    ]
}

/// The documented table (docs/cases.md): the next state, or the error.
const TABLE: &[(&str, [&str; 18])] = &[
    //  report, assess, classify, complete, reassign, acknowledge, add_ev, remove_ev, signal, update,
    //  monitor, close, reopen, submit_review, approve_review, tick, volume_checked, decide_proposal
    (
        "new",
        [
            "assessing",
            "T",
            "T",
            "T",
            "T",
            "NothingToAcknowledge",
            "new",
            "new",
            "new",
            "new",
            "T",
            "T",
            "T",
            "T",
            "T",
            "new",
            "T",
            "T",
        ],
    ),
    (
        "assessing",
        [
            "assessing",
            "assessing",
            "NeedsGrade",
            "T",
            "T",
            "NothingToAcknowledge",
            "assessing",
            "assessing",
            "assessing",
            "assessing",
            "T",
            "closed",
            "T",
            "T",
            "T",
            "assessing",
            "T",
            "T",
        ],
    ),
    (
        "handling",
        [
            "handling",
            "handling",
            "SameClassification",
            "handling",
            "handling",
            "handling",
            "handling",
            "handling",
            "handling",
            "handling",
            "TasksOpen",
            "TasksOpen",
            "T",
            "T",
            "T",
            "handling",
            "TaskNotOpen",
            "T",
        ],
    ),
    (
        "monitoring",
        [
            "monitoring",
            "monitoring",
            "SameClassification",
            "TaskNotOpen",
            "TaskNotOpen",
            "monitoring",
            "monitoring",
            "monitoring",
            "monitoring",
            "monitoring",
            "T",
            "closed",
            "T",
            "T",
            "T",
            "monitoring",
            "monitoring",
            "T",
        ],
    ),
    (
        "closed",
        [
            "T", "T", "T", "T", "T", "T", "T", "T", "T", "closed", "T", "T", "handling", "closed", "NoReview",
            "closed", "T", "Field",
        ],
    ),
    ("reviewed", ["T", "T", "T", "T", "T", "T", "T", "T", "T", "T", "T", "T", "T", "T", "T", "reviewed", "T", "Field"]),
];

fn error_name(e: &CaseError) -> &'static str {
    match e {
        CaseError::Transition { .. } => "T",
        CaseError::NeedsGrade => "NeedsGrade",
        CaseError::ReasonRequired => "ReasonRequired",
        CaseError::SameClassification => "SameClassification",
        CaseError::NoTask(_) => "NoTask",
        CaseError::TaskNotOpen(_) => "TaskNotOpen",
        CaseError::NeedsDecision(_) => "NeedsDecision",
        CaseError::TasksOpen(_) => "TasksOpen",
        CaseError::NothingToAcknowledge => "NothingToAcknowledge",
        CaseError::NoReview => "NoReview",
        CaseError::Evidence(_) => "Evidence",
        CaseError::Field(..) => "Field",
        CaseError::NoPerson(_) => "NoPerson",
    }
}

#[test]
fn every_state_and_event_gives_the_documented_next_state_or_error() {
    let w = World::new();
    let evs = events();
    assert_eq!(TABLE.len(), CaseState::ALL.len());
    let mut checked = 0;
    for (state_name, row) in TABLE {
        let state = CaseState::parse(state_name).unwrap();
        for ((name, event), expected) in evs.iter().zip(row.iter()) {
            let mut c = case_in(&w, state);
            // In monitoring the conditional task's check is due; a day later.
            let now = t0() + Duration::hours(30);
            let before = c.clone();
            let got = match c.apply(event.clone(), &w.ctx(now)) {
                Ok(_) => c.state.as_str().to_string(),
                Err(e) => {
                    assert_eq!(c, before, "{state_name} × {name}: a refused event changes nothing");
                    assert!(!e.message_zh().is_empty() && !e.message_en().is_empty());
                    error_name(&e).to_string()
                }
            };
            assert_eq!(&got, expected, "{state_name} × {name}");
            checked += 1;
        }
    }
    assert_eq!(checked, 6 * 18);
}

#[test]
fn a_change_of_classification_needs_a_reason_and_cancels_the_old_tasks() {
    let w = World::new();
    let mut c = case_in(&w, CaseState::Handling);
    let now = t0() + Duration::hours(1);
    let e = c.apply(Event::Classify { classification: Classification::Fabrication, reason: " ".into() }, &w.ctx(now));
    assert_eq!(e, Err(CaseError::ReasonRequired));
    let out = c
        .apply(
            Event::Classify { classification: Classification::Fabrication, reason: "核实为捏造".into() },
            &w.ctx(now),
        )
        .unwrap();
    assert!(out.entries.iter().any(|e| e.kind == "reclassified"));
    let hype: Vec<&Task> = c.tasks.iter().filter(|t| t.round == 1).collect();
    assert!(hype.iter().all(|t| t.state == TaskState::Cancelled), "{hype:?}");
    let ids: Vec<String> = c.tasks.iter().filter(|t| t.state == TaskState::Open).map(Task::id).collect();
    assert_eq!(ids, ["register_claim#2", "clarify#2", "refer_legal#2"]);
}

#[test]
fn grade_ii_notifies_the_leading_group_at_once_and_climbs_to_its_lead() {
    let w = World::new();
    let mut c = case_in(&w, CaseState::Assessing);
    let out = c.apply(Event::Assess { grade: Grade::II, assessment: "扩散快".into() }, &w.ctx(t0())).unwrap();
    let notified: Vec<(&String, &Vec<String>)> = out
        .effects
        .iter()
        .filter_map(|e| if let Effect::Notify { key, to, .. } = e { Some((key, to)) } else { None })
        .collect();
    assert_eq!(notified.len(), 1);
    assert_eq!(notified[0].1, &vec!["zhao".to_string()], "the leading group's lead, at once");
    assert_eq!(c.severity, tidewatch_workflow::alerts::Severity::High);
    // 30 minutes unacknowledged: its first responsible person.
    let out = c.apply(Event::Tick, &w.ctx(t0() + Duration::minutes(31))).unwrap();
    let to: Vec<&Vec<String>> =
        out.effects.iter().filter_map(|e| if let Effect::Notify { to, .. } = e { Some(to) } else { None }).collect();
    assert_eq!(to, vec![&vec!["chen".to_string()]]);
    // The same moment again: nothing twice.
    let again = c.apply(Event::Tick, &w.ctx(t0() + Duration::minutes(31))).unwrap();
    assert!(again.effects.is_empty(), "{again:?}");
    c.apply(Event::Acknowledge, &w.ctx(t0() + Duration::minutes(40))).unwrap();
    assert_eq!(c.apply(Event::Acknowledge, &w.ctx(t0())), Err(CaseError::NothingToAcknowledge));
    let later = c.apply(Event::Tick, &w.ctx(t0() + Duration::hours(5))).unwrap();
    assert!(later.effects.is_empty(), "acknowledged: the ladder stops");
    // Grade I: the owner unit's first responsible person is asked to acknowledge, once.
    c.apply(Event::Assess { grade: Grade::I, assessment: "升级".into() }, &w.ctx(t0() + Duration::hours(5))).unwrap();
    let ack: Vec<&Task> = c.tasks.iter().filter(|t| t.kind == TaskKind::Acknowledge).collect();
    assert_eq!(ack.len(), 1);
    assert_eq!(ack[0].owner.as_deref(), Some("wang"));
    assert_eq!(ack[0].due_at, Some(t0() + Duration::hours(6)));
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn classified(w: &World, c: Classification, now: DateTime<Utc>) -> Case {
    let (mut case, _) = Case::open(3, opening(), &w.ctx(now)).unwrap();
    case.apply(report(), &w.ctx(now)).unwrap();
    case.apply(Event::Assess { grade: Grade::IV, assessment: "一般".into() }, &w.ctx(now)).unwrap();
    case.apply(Event::Classify { classification: c, reason: String::new() }, &w.ctx(now)).unwrap();
    case
}

#[test]
fn a_same_day_answer_is_due_at_local_midnight_and_an_answer_after_it_is_a_miss() {
    let w = World::new();
    // 23:20 in Shanghai (15:20 UTC): the day ends in 40 minutes.
    let opened = at("2026-12-01T15:20:00Z");
    let mut c = classified(&w, Classification::Inquiry, opened);
    let t = c.tasks.iter().find(|t| t.key == "reply_today").unwrap();
    assert_eq!(t.due_at, Some(at("2026-12-01T15:59:59.999Z")));
    // Reminders at 50% and 90%: 23:40 and 23:56 local.
    let out = c.apply(Event::Tick, &w.ctx(at("2026-12-01T15:40:00Z"))).unwrap();
    assert_eq!(out.entries.iter().filter(|e| e.kind == "reminder").count(), 1);
    // 00:05 local on the 2nd (16:05 UTC, still the 1st in UTC): missed, the unit lead told.
    let out = c.apply(Event::Tick, &w.ctx(at("2026-12-01T16:05:00Z"))).unwrap();
    let missed: Vec<&Entry> = out.entries.iter().filter(|e| e.kind == "deadline_missed").collect();
    assert_eq!(missed.len(), 1, "{out:?}");
    assert_eq!(missed[0].detail["escalated_to"], serde_json::json!(["li"]));
    assert!(out.entries.iter().all(|e| e.kind != "reminder"), "the 90% reminder is not sent after the deadline");
    // Answered with a promised date: the answer task is due then.
    let promised = at("2026-12-04T09:00:00Z");
    let ev = Event::CompleteTask {
        task: "reply_today".into(),
        note: "三日内答复".into(),
        promised_by: Some(promised),
        decision: None,
    };
    c.apply(ev, &w.ctx(at("2026-12-01T16:10:00Z"))).unwrap();
    let answer = c.tasks.iter().find(|t| t.key == "answer").unwrap();
    assert_eq!((answer.state, answer.due_at), (TaskState::Open, Some(promised)));
}

#[test]
fn working_day_deadlines_skip_the_weekend_a_holiday_and_count_an_adjusted_working_day() {
    let mut w = World::new();
    // Friday 2026-12-04 10:00 Shanghai; 5 working days: Mon 7 … Fri 11, closing 17:30.
    let friday = at("2026-12-04T02:00:00Z");
    let c = classified(&w, Classification::Constructive, friday);
    let decide = c.tasks.iter().find(|t| t.key == "decide").unwrap();
    assert_eq!(decide.due_at, Some(at("2026-12-11T09:30:00Z")));
    // Wednesday the 9th a holiday: one day later. Saturday the 5th worked (调休): back again.
    w.calendars.default.holidays.insert("2026-12-09".parse().unwrap());
    let c = classified(&w, Classification::Constructive, friday);
    assert_eq!(c.tasks.iter().find(|t| t.key == "decide").unwrap().due_at, Some(at("2026-12-14T09:30:00Z")));
    w.calendars.default.workdays.insert("2026-12-05".parse().unwrap());
    let c = classified(&w, Classification::Constructive, friday);
    assert_eq!(c.tasks.iter().find(|t| t.key == "decide").unwrap().due_at, Some(at("2026-12-11T09:30:00Z")));
    // A unit with its own calendar (the canteen works every day; the holiday is the default's).
    w.calendars
        .units
        .insert("后勤集团".into(), tidewatch_workflow::calendar::Calendar { weekend: vec![], ..Default::default() });
    let c = classified(&w, Classification::Constructive, friday);
    assert_eq!(c.tasks.iter().find(|t| t.key == "decide").unwrap().due_at, Some(at("2026-12-09T09:30:00Z")));
    // The decision needs its value and reason.
    let mut c = c;
    let bad = Event::CompleteTask {
        task: "decide".into(),
        note: "".into(),
        promised_by: None,
        decision: Some("adopted".into()),
    };
    assert!(matches!(c.apply(bad, &w.ctx(friday)), Err(CaseError::NeedsDecision(_))));
}

#[test]
fn the_built_in_playbooks_are_valid_and_broken_ones_are_refused() {
    assert_eq!(Playbooks::default().check(), Ok(()));
    let mut p = Playbooks::default();
    p.playbooks[1].tasks[1].after = Some("nothing".into());
    assert!(p.check().unwrap_err().contains("names no earlier task"));
    let mut p = Playbooks::default();
    p.playbooks.pop();
    assert!(p.check().unwrap_err().contains("constructive"));
    let mut p = Playbooks::default();
    p.playbooks[0].tasks[0].deadline.working_days = Some(3);
    assert!(p.check().unwrap_err().contains("exactly one"));
}

// ---- any sequence of events keeps the invariants ----

fn arb_event() -> impl Strategy<Value = Event> {
    let task = prop::sample::select(vec![
        "publish_facts",
        "refer_discipline",
        "reply_today",
        "answer",
        "register_claim",
        "clarify",
        "refer_legal",
        "decide",
        "reply_proposer",
        "publish_facts#2",
        "clarify#2",
        "acknowledge_grade_i",
    ]);
    let class = prop::sample::select(Classification::ALL.to_vec());
    let grade = prop::sample::select(Grade::ALL.to_vec());
    prop_oneof![
        Just(report()),
        grade.prop_map(|grade| Event::Assess { grade, assessment: "研判".into() }),
        (class, prop::bool::ANY).prop_map(|(classification, r)| Event::Classify {
            classification,
            reason: if r { "理由".into() } else { String::new() }
        }),
        (task.clone(), prop::bool::ANY, prop::sample::select(vec!["adopted", "maybe"])).prop_map(|(t, p, d)| {
            Event::CompleteTask {
                task: t.into(),
                note: "做完".into(),
                promised_by: p.then(|| t0() + Duration::days(400)),
                decision: Some(d.into()),
            }
        }),
        task.clone().prop_map(|t| Event::ReassignTask { task: t.into(), to: "wang".into() }),
        Just(Event::Acknowledge),
        (0i64..4).prop_map(|id| Event::AddEvidence { kind: EvidenceKind::Item, id }),
        (0i64..4).prop_map(|id| Event::RemoveEvidence { kind: EvidenceKind::Item, id }),
        Just(Event::Monitor),
        Just(Event::Close { summary: "结案".into() }),
        Just(Event::Reopen { reason: "再起".into() }),
        Just(Event::SubmitReview(ReviewNotes {
            worked: "好".into(),
            actions: vec![ReviewAction {
                text: "改规则".into(),
                topic: Some("canteen".into()),
                rule: Some("食堂 AND 异物".into()),
                ..ReviewAction::default()
            }],
            ..ReviewNotes::default()
        })),
        Just(Event::ApproveReview),
        (0usize..2, prop::bool::ANY).prop_map(|(action, accept)| Event::DecideProposal {
            action,
            accept,
            reason: if accept { String::new() } else { "不采纳".into() }
        }),
        Just(Event::Tick),
        Just(Event::Tick),
        (task, 0i64..5, 0i64..5).prop_map(|(t, before, after)| Event::VolumeChecked { task: t.into(), before, after }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn any_sequence_of_events_keeps_the_invariants(
        steps in prop::collection::vec((arb_event(), 0i64..600), 1..60)
    ) {
        let w = World::new();
        let (mut c, out) = Case::open(9, opening(), &w.ctx(t0())).unwrap();
        let mut timeline = out.entries;
        let mut now = t0();
        for (event, minutes) in steps {
            now += Duration::minutes(minutes);
            let before = c.clone();
            let name = event.name();
            match c.apply(event, &w.ctx(now)) {
                Err(_) => prop_assert_eq!(&c, &before, "a refused {} changed the case", name),
                Ok(out) => {
                    timeline.extend(out.entries);
                    // Reviewed only from closed, with an approved review.
                    if c.state == CaseState::Reviewed {
                        prop_assert!(matches!(before.state, CaseState::Closed | CaseState::Reviewed));
                        prop_assert!(c.review.as_ref().is_some_and(|r| r.approved.is_some()));
                        prop_assert!(c.closed_at.is_some());
                    }
                    // The history only grows (reopening keeps it).
                    prop_assert!(c.reports.len() >= before.reports.len());
                    prop_assert!(c.grades.len() >= before.grades.len());
                    prop_assert!(c.classifications.len() >= before.classifications.len());
                    prop_assert!(c.tasks.len() >= before.tasks.len());
                    prop_assert_eq!(&c.reports[..before.reports.len()], &before.reports[..]);
                    prop_assert_eq!(&c.grades[..before.grades.len()], &before.grades[..]);
                    // Reviews and decisions on proposed rules are kept (a reopen moves the review
                    // to the past ones).
                    let decided = |c: &Case| {
                        c.past_reviews.iter().chain(c.review.iter())
                            .flat_map(|r| &r.notes.actions).filter(|a| a.decision.is_some()).count()
                    };
                    prop_assert!(decided(&c) >= decided(&before));
                    prop_assert!(c.past_reviews.len() + usize::from(c.review.is_some())
                        >= before.past_reviews.len() + usize::from(before.review.is_some()));
                }
            }
            // One classification at a time: tasks of earlier ones are done or cancelled.
            let round = c.round();
            for t in c.tasks.iter().filter(|t| t.round > 0 && t.round < round) {
                prop_assert!(matches!(t.state, TaskState::Done | TaskState::Cancelled), "{:?}", t);
            }
            prop_assert!(c.tasks.iter().all(|t| t.round <= round));
            // Classified only after a grade; handling and later only when classified (or closed
            // straight from assessing).
            if round > 0 {
                prop_assert!(!c.grades.is_empty());
            }
            if matches!(c.state, CaseState::Handling | CaseState::Monitoring) {
                prop_assert!(round > 0);
            }
            // Open tasks have a deadline; done tasks a time.
            for t in &c.tasks {
                match t.state {
                    TaskState::Open => prop_assert!(t.due_at.is_some() && t.starts_at.is_some()),
                    TaskState::Done => prop_assert!(t.done_at.is_some()),
                    _ => {}
                }
            }
        }
        // The timeline is in time order.
        prop_assert!(timeline.windows(2).all(|p| p[0].at <= p[1].at));
    }
}
