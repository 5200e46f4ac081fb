//! `tidewatch topics load|list|backtest|counts` and `search --topic` on a data directory: one bad
//! topic does not stop the others; a bad draft rule gets the same positioned error as everywhere.

use crate::common;
use common::{run, stderr, stdout};

#[test]
fn topics_on_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let topics = tmp.path().join("topics.toml");
    std::fs::write(
        &topics,
        r#"
[[topic]]
id = "canteen"
rule = "食堂 AND (腹泻 OR 呕吐)"
severity = "high"

[[topic]]
id = "broken"
rule = "食堂 AND (腹泻 OR"
"#,
    )
    .unwrap();
    let o = run(&data, &["topics", "load", topics.to_str().unwrap()], None);
    assert_eq!(o.status.code(), Some(1), "an error in one topic: exit 1");
    let out = stdout(&o);
    assert!(out.contains("topic broken: error: column 14"), "{out}");
    assert!(out.contains("canteen: saved as version 1"), "the good topic is saved anyway: {out}");

    let items = tmp.path().join("items.jsonl");
    std::fs::write(
        &items,
        concat!(
            r#"{"id": "1", "source": "weibo", "text": "第三食堂多人呕吐", "published_at": "2026-10-12T10:00:00+08:00"}"#,
            "\n",
            r#"{"id": "2", "source": "weibo", "text": "食堂今天开门", "published_at": "2026-10-12T11:00:00+08:00"}"#,
            "\n"
        ),
    )
    .unwrap();
    let o = run(&data, &["import", items.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&data, &["search", "--topic", "canteen", "--json", "食堂"], None);
    let hits = common::json_lines(&stdout(&o));
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0]["id"], "1");

    let o = run(&data, &["topics", "list"], None);
    assert!(stdout(&o).starts_with("canteen\tv1\tenabled\thigh"), "{}", stdout(&o));
    let o = run(&data, &["topics", "counts", "--days", "3"], None);
    assert!(o.status.success());

    let o = run(
        &data,
        &["topics", "backtest", "--rule", "食堂 NOT 呕吐", "--days", "2", "--until", "2026-10-12", "--json"],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let bt: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!((bt["scanned"].as_u64(), bt["hits"].as_u64()), (Some(2), Some(1)), "{bt}");
    assert_eq!(bt["days"][1]["count"], 1);
    assert_eq!(bt["samples"][0]["spans"][0], serde_json::json!({"field": "text", "start": 0, "end": 2}));

    let o = run(&data, &["topics", "backtest", "--rule", "食堂 AND (腹泻 OR"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("column 14") && stderr(&o).contains("第 14 列"), "{}", stderr(&o));
}

#[test]
fn cases_and_unit_figures_on_the_command_line() {
    use chrono::{Duration, Utc};
    use tidewatch_engine::accounts::{self, Actor};
    use tidewatch_engine::cases::{Cases, CasesConfig};
    use tidewatch_workflow::cases::{Classification, Event, Grade, Opening, ReportBody};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    {
        let mut db = tidewatch_store::Db::open(&data).unwrap();
        let by = Actor::local("t");
        let unit = tidewatch_store::UnitRow {
            id: "后勤集团".into(),
            name: "后勤集团".into(),
            parent: None,
            first_responsible: None,
            direct_responsible: None,
            updated_at: Utc::now(),
        };
        accounts::save_unit(&mut db, &by, None, unit, Utc::now()).unwrap();
        let cases = Cases::new(CasesConfig::default(), "http://tw.example");
        let t = Utc::now() - Duration::hours(5);
        let o = Opening {
            title: "二食堂投诉".into(),
            unit: "后勤集团".into(),
            owner: None,
            alert: None,
            severity: None,
            detected_at: Some(t - Duration::minutes(20)),
            signals_before: 0,
            evidence: vec![],
        };
        let c = cases.open_case(&mut db, &by, None, o, t).unwrap();
        let report = Event::Report(ReportBody { development: "扩散".into(), ..ReportBody::default() });
        cases.act(&mut db, &by, None, c.id, report, t).unwrap();
        cases.act(&mut db, &by, None, c.id, Event::Assess { grade: Grade::III, assessment: "a".into() }, t).unwrap();
        let classify = Event::Classify { classification: Classification::Hype, reason: String::new() };
        cases.act(&mut db, &by, None, c.id, classify, t).unwrap();
        // A response with two versions and a claim.
        let responses = tidewatch_engine::responses::Responses::new(Default::default(), "http://tw.example");
        let d = tidewatch_workflow::responses::Draft {
            kind: tidewatch_workflow::responses::ResponseKind::Statement,
            lang: "zh".into(),
            title: "情况说明".into(),
            body: "经查，网传信息不实。".into(),
            places: vec![tidewatch_workflow::responses::Place::OwnSite],
            audience: String::new(),
            claim: None,
            corrects: None,
        };
        let r = responses.draft(&mut db, &by, None, c.id, d, t).unwrap();
        let edit = tidewatch_workflow::responses::Event::Edit {
            title: "情况说明".into(),
            body: "经查，网传信息与事实不符。".into(),
        };
        responses.act(&mut db, &by, None, r.id, edit, t).unwrap();
        responses.new_claim(&mut db, &by, None, c.id, "二食堂饭菜有异物", vec!["异物".into()], None, t).unwrap();
    }
    let o = run(&data, &["responses", "list", "--case", "1"], None);
    assert!(stdout(&o).contains("#1\tdraft\tv2"), "{}", stdout(&o));
    let o = run(&data, &["responses", "diff", "1"], None);
    assert!(stdout(&o).contains("[-不实-]{+与事实不符+}"), "{}", stdout(&o));
    let o = run(&data, &["claims", "list", "--case", "1"], None);
    assert!(stdout(&o).contains("二食堂饭菜有异物"), "{}", stdout(&o));
    let o = run(&data, &["claims", "show", "1"], None);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["claim"]["status"], "unverified");
    let o = run(&data, &["cases", "list"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("#1\thandling\tIII\thype\t后勤集团") && out.contains("二食堂投诉"), "{out}");
    let o = run(&data, &["cases", "show", "1"], None);
    let out = stdout(&o);
    assert!(out.contains("task publish_facts") && out.contains("task_started"), "{out}");
    let o = run(&data, &["cases", "show", "1", "--json"], None);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["case"]["tasks"][0]["key"], "publish_facts");
    let o = run(&data, &["cases", "show", "9"], None);
    assert!(!o.status.success() && stderr(&o).contains("no case 9"), "{}", stderr(&o));
    let o = run(&data, &["cases", "list", "--state", "open"], None);
    assert!(!o.status.success() && stderr(&o).contains("--state"), "{}", stderr(&o));
    use chrono::Datelike;
    let year = (Utc::now() - Duration::hours(5)).with_timezone(&chrono_tz::Asia::Shanghai).year().to_string();
    let o = run(&data, &["units", "figures", "--year", &year, "--json"], None);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!((v[0]["unit"].as_str(), v[0]["cases"].as_u64()), (Some("后勤集团"), Some(1)), "{v}");
    assert_eq!(v[0]["acknowledge_minutes"]["median"], 20.0);
    let o = run(&data, &["units", "figures", "--year", "1900"], None);
    assert!(!o.status.success(), "a year out of range is refused");
}
