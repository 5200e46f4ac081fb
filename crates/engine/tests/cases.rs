//! The deadline module against the store: a restart between a reminder and the deadline loses
//! nothing and sends nothing twice; invalid playbooks and calendars are reported with their
//! line and the defaults stay; per-unit figures match a hand-computed fixture.

use chrono::{DateTime, Duration, TimeZone, Utc};
use tidewatch_engine::accounts::{self, Actor};
use tidewatch_engine::cases::{unit_figures, year_bounds, Cases, CasesConfig};
use tidewatch_store::{Db, PersonRow, UnitRow};
use tidewatch_workflow::cases::{Classification, Event, Grade, Opening, ReportBody, ReviewNotes};

fn at(h: i64, m: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap() + Duration::hours(h) + Duration::minutes(m)
}

fn setup(root: &std::path::Path) -> Db {
    let mut db = Db::open(root).unwrap();
    let by = Actor::local("setup");
    for id in ["officer", "li", "wang", "zhao"] {
        let p = PersonRow {
            id: id.into(),
            name: id.into(),
            lang: "en".into(),
            email: None,
            phone: None,
            dingtalk: None,
            wecom: None,
            feishu: None,
            channels: serde_json::json!([{"kind": "email", "to": format!("{id}@example.org")}]).to_string(),
            updated_at: Utc::now(),
        };
        accounts::save_person(&mut db, &by, None, p, Utc::now()).unwrap();
    }
    for (id, parent) in [("领导小组", None), ("后勤集团", Some("领导小组")), ("教务处", Some("领导小组"))]
    {
        let u = UnitRow {
            id: id.into(),
            name: id.into(),
            parent: parent.map(str::to_string),
            first_responsible: Some("wang".into()),
            direct_responsible: Some(if id == "领导小组" { "zhao" } else { "li" }.into()),
            updated_at: Utc::now(),
        };
        accounts::save_unit(&mut db, &by, None, u, Utc::now()).unwrap();
    }
    db
}

fn opening(unit: &str, detected: Option<DateTime<Utc>>) -> Opening {
    Opening {
        title: "投诉".into(),
        unit: unit.into(),
        owner: Some("officer".into()),
        alert: None,
        severity: None,
        detected_at: detected,
        signals_before: 0,
        evidence: vec![],
    }
}

fn report() -> Event {
    Event::Report(ReportBody { development: "扩散".into(), ..ReportBody::default() })
}

fn outbox(root: &std::path::Path) -> Vec<(String, String)> {
    let db = Db::open(root).unwrap();
    db.notifications(Some(0), 1000).unwrap().into_iter().map(|n| (n.key, n.recipient)).collect()
}

#[test]
fn a_restart_between_a_reminder_and_the_deadline_loses_none_and_sends_none_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = setup(tmp.path());
    let who = Actor::local("analyst");
    let cases = Cases::new(CasesConfig::default(), "http://tw.example");
    let c = cases.open_case(&mut db, &who, None, opening("后勤集团", None), at(0, 0)).unwrap();
    cases.act(&mut db, &who, None, c.id, report(), at(0, 0)).unwrap();
    cases
        .act(&mut db, &who, None, c.id, Event::Assess { grade: Grade::III, assessment: "a".into() }, at(0, 0))
        .unwrap();
    let ev = Event::Classify { classification: Classification::Hype, reason: String::new() };
    cases.act(&mut db, &who, None, c.id, ev, at(0, 0)).unwrap();
    // Grade III: publish within 24 h; reminders at 12 h and 21.6 h, to the case owner.
    let key = |k: &str| outbox(tmp.path()).iter().filter(|(key, _)| key.contains(k)).count();
    cases.tick(&mut db, at(11, 59)).unwrap();
    assert_eq!(key("remind"), 0);
    cases.tick(&mut db, at(12, 0)).unwrap();
    cases.tick(&mut db, at(12, 0)).unwrap();
    assert_eq!(key(":remind:publish_facts:500:officer"), 1, "the 50% reminder, once: {:?}", outbox(tmp.path()));
    // The server is killed here; a new process opens the store again.
    drop(db);
    drop(cases);
    let mut db = Db::open(tmp.path()).unwrap();
    let cases = Cases::new(CasesConfig::default(), "http://tw.example");
    cases.tick(&mut db, at(12, 30)).unwrap();
    assert_eq!(key("remind"), 1, "nothing sent twice after the restart");
    cases.tick(&mut db, at(21, 36)).unwrap();
    assert_eq!(key(":remind:publish_facts:900:officer"), 1, "the 90% reminder after the restart");
    // Down across the deadline: the miss is recorded once and goes to the unit lead.
    drop(db);
    let mut db = Db::open(tmp.path()).unwrap();
    let cases = Cases::new(CasesConfig::default(), "http://tw.example");
    cases.tick(&mut db, at(30, 0)).unwrap();
    cases.tick(&mut db, at(31, 0)).unwrap();
    assert_eq!(key(":missed:publish_facts:li"), 1);
    let timeline = db.case_timeline(c.id).unwrap();
    let kinds: Vec<&str> = timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "reminder").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "deadline_missed").count(), 1);
    let row = db.case(c.id).unwrap().unwrap();
    assert!(row.earliest_due.is_some_and(|d| d < at(31, 0)), "still overdue");
    assert_eq!(row.next_due, None, "nothing more is due until someone acts");
}

#[test]
fn invalid_files_are_reported_with_their_line_and_the_defaults_stay() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("playbooks.toml"),
        "reminders = [0.5]\n\n[[playbook]]\nclassification = \"hype\"\n[[playbook.task]]\nkey = \"x\"\ntitle = \"x\"\nrole = \"king\"\ndeadline = { hours = 4 }\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("calendar.toml"), "zone = \"Asia/Shanghai\"\nholidays = [\"2026-02-30\"]\n")
        .unwrap();
    let c = CasesConfig::load(tmp.path());
    assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
    assert!(c.problems[0].contains("playbooks.toml") && c.problems[0].contains("line 8"), "{:?}", c.problems);
    assert!(c.problems[1].contains("calendar.toml") && c.problems[1].contains("line 2"), "{:?}", c.problems);
    assert_eq!(c.playbooks, tidewatch_workflow::cases::Playbooks::default());
    // A valid file replaces one playbook and keeps the others.
    std::fs::write(
        tmp.path().join("playbooks.toml"),
        "[[playbook]]\nclassification = \"hype\"\n[[playbook.task]]\nkey = \"statement\"\ntitle = \"发布声明\"\nrole = \"analyst\"\nkind = \"publish\"\ndeadline = { hours = 2 }\n",
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("calendar.toml"),
        "holidays = [\"2026-10-01\"]\n[unit.\"后勤集团\"]\nweekend = []\n",
    )
    .unwrap();
    let c = CasesConfig::load(tmp.path());
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    assert_eq!(c.playbooks.of(Classification::Hype).unwrap().tasks.len(), 1);
    assert_eq!(c.playbooks.of(Classification::Inquiry).unwrap().tasks.len(), 2);
    assert!(c.calendars.of("后勤集团").weekend.is_empty());
    assert!(c.calendars.of("后勤集团").holidays.contains(&"2026-10-01".parse().unwrap()), "units inherit holidays");
}

#[test]
fn per_unit_figures_match_a_hand_computed_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let mut db = setup(tmp.path());
    let who = Actor::local("analyst");
    let cases = Cases::new(CasesConfig::default(), "http://tw.example");
    let act = |db: &mut Db, id: i64, e: Event, t: DateTime<Utc>| cases.act(db, &who, None, id, e, t).unwrap();
    let done =
        |task: &str| Event::CompleteTask { task: task.into(), note: "ok".into(), promised_by: None, decision: None };
    // Case A (后勤集团): detected 0:00, opened 0:30, grade III hype, facts published at 2:30
    // (due 24:30: met), closed 10:30, reviewed.
    let a = cases.open_case(&mut db, &who, None, opening("后勤集团", Some(at(0, 0))), at(0, 30)).unwrap().id;
    act(&mut db, a, report(), at(0, 40));
    act(&mut db, a, Event::Assess { grade: Grade::III, assessment: "a".into() }, at(1, 0));
    act(&mut db, a, Event::Classify { classification: Classification::Hype, reason: String::new() }, at(1, 0));
    act(&mut db, a, done("publish_facts"), at(2, 30));
    act(&mut db, a, Event::Monitor, at(3, 0));
    act(&mut db, a, Event::Close { summary: "s".into() }, at(10, 30));
    act(&mut db, a, Event::SubmitReview(ReviewNotes { worked: "w".into(), ..Default::default() }), at(11, 0));
    act(&mut db, a, Event::ApproveReview, at(12, 0));
    // Case B (后勤集团): detected 0:00, opened 2:00, grade II hype, published at 7:00 (due 6:00:
    // missed), closed 26:00.
    let b = cases.open_case(&mut db, &who, None, opening("后勤集团", Some(at(0, 0))), at(2, 0)).unwrap().id;
    act(&mut db, b, report(), at(2, 0));
    act(&mut db, b, Event::Assess { grade: Grade::II, assessment: "a".into() }, at(2, 0));
    act(&mut db, b, Event::Classify { classification: Classification::Hype, reason: String::new() }, at(2, 0));
    cases.tick(&mut db, at(6, 30)).unwrap();
    act(&mut db, b, done("publish_facts"), at(7, 0));
    act(&mut db, b, Event::Monitor, at(7, 0));
    act(&mut db, b, Event::Close { summary: "s".into() }, at(26, 0));
    // Case C (后勤集团): detected 1:00, opened 1:10, grade IV constructive, decision and reply in
    // time (3 days later), not closed.
    let c = cases.open_case(&mut db, &who, None, opening("后勤集团", Some(at(1, 0))), at(1, 10)).unwrap().id;
    act(&mut db, c, report(), at(1, 10));
    act(&mut db, c, Event::Assess { grade: Grade::IV, assessment: "a".into() }, at(1, 20));
    act(&mut db, c, Event::Classify { classification: Classification::Constructive, reason: String::new() }, at(1, 20));
    let decide = Event::CompleteTask {
        task: "decide".into(),
        note: "可行".into(),
        promised_by: None,
        decision: Some("adopted".into()),
    };
    act(&mut db, c, decide, at(72, 0));
    act(&mut db, c, done("reply_proposer"), at(73, 20));
    // Case D (教务处): opened by hand (no detection time), still new.
    cases.open_case(&mut db, &who, None, opening("教务处", None), at(5, 0)).unwrap();
    // Case E (后勤集团) opened the year before: not counted.
    let e = Utc.with_ymd_and_hms(2025, 12, 31, 15, 0, 0).unwrap();
    cases.open_case(&mut db, &who, None, opening("后勤集团", Some(e)), e).unwrap();

    let (from, to) = year_bounds(2026).unwrap();
    let figs = unit_figures(&db, from, to).unwrap();
    assert_eq!(figs.iter().map(|f| f.unit.as_str()).collect::<Vec<_>>(), ["后勤集团", "教务处"]);
    let h = &figs[0];
    assert_eq!(h.cases, 3);
    assert_eq!(h.by_grade.get("II"), Some(&1));
    assert_eq!(h.by_grade.get("III"), Some(&1));
    assert_eq!(h.by_grade.get("IV"), Some(&1));
    assert_eq!(h.by_classification.get("hype"), Some(&2));
    assert_eq!(h.by_classification.get("constructive"), Some(&1));
    // Deadlines: A met, B missed, C two met → 3 of 4.
    assert_eq!((h.deadlines_met, h.deadlines_missed, h.deadlines_met_pct), (3, 1, Some(75.0)));
    // Acknowledge: 30, 120, 10 minutes → median 30, p90 (nearest rank 3 of 3) 120.
    assert_eq!((h.acknowledge_minutes.median, h.acknowledge_minutes.p90), (Some(30.0), Some(120)));
    // First response: A 120 (0:30 → 2:30), B 300 (2:00 → 7:00), C 4330 (1:10 → 73:20; the reply)
    // → median 300, p90 4330.
    assert_eq!((h.first_response_minutes.median, h.first_response_minutes.p90), (Some(300.0), Some(4330)));
    // Close: A 600, B 1440 → median 1020, p90 1440.
    assert_eq!((h.close_minutes.n, h.close_minutes.median, h.close_minutes.p90), (2, Some(1020.0), Some(1440)));
    assert_eq!(h.reviews_done, 1);
    let j = &figs[1];
    assert_eq!((j.cases, j.by_grade.get("ungraded"), j.deadlines_met_pct), (1, Some(&1), None));
    assert_eq!(j.acknowledge_minutes.n, 0);
}

#[test]
fn evidence_is_kept_from_retention_until_the_case_closes() {
    use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let dir = DataDir::new(tmp.path());
    let mut p = Pipeline::open(&dir, tidewatch_text::Segmenter::shared_default(), PipelineConfig::default()).unwrap();
    let old = Utc::now() - Duration::days(400);
    let items: Vec<tidewatch_model::ItemInput> = ["二食堂饭菜发霉", "图书馆闭馆通知"]
        .iter()
        .enumerate()
        .map(|(i, t)| tidewatch_model::ItemInput {
            id: Some(format!("e{i}")),
            source: Some("weibo".into()),
            text: Some(t.to_string()),
            published_at: Some(old),
            ..Default::default()
        })
        .collect();
    p.ingest(&items, old).unwrap();
    let who = Actor::local("duty");
    let cases = Cases::new(CasesConfig::default(), "http://tw.example");
    let mut o = opening("后勤集团", None);
    o.evidence = vec![(tidewatch_workflow::cases::EvidenceKind::Item, 1)];
    let c = cases.open_case(p.db_mut(), &who, None, o, Utc::now()).unwrap();
    // Everything is older than the 180-day period: the evidence item stays, the other goes.
    p.purge_before(Utc::now() - Duration::days(180), 100).unwrap();
    assert!(p.db().item_exists(tidewatch_model::ItemId(1)).unwrap(), "held as evidence");
    assert!(!p.db().item_exists(tidewatch_model::ItemId(2)).unwrap(), "not evidence: purged");
    cases.act(p.db_mut(), &who, None, c.id, report(), Utc::now()).unwrap();
    cases.act(p.db_mut(), &who, None, c.id, Event::Close { summary: "误报".into() }, Utc::now()).unwrap();
    p.purge_before(Utc::now() - Duration::days(180), 100).unwrap();
    assert!(!p.db().item_exists(tidewatch_model::ItemId(1)).unwrap(), "released when the case closed");
}
