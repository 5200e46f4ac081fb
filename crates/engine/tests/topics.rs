//! Topics in the store: every ingested item is matched and its hits stored with the rule version;
//! a rule edit is versioned and applies to items stored afterwards; search filters by topic, also
//! after the index is rebuilt from the store; backtests count a draft rule's hits per day.

use chrono::{DateTime, TimeZone, Utc};
use tidewatch_engine::topics::{backtest, check_rule};
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_model::ItemInput;
use tidewatch_store::{SearchRequest, TopicDraft};
use tidewatch_text::Segmenter;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai.with_ymd_and_hms(2026, 10, day, hour, 0, 0).unwrap().with_timezone(&Utc)
}

fn item(id: &str, text: &str, day: u32) -> ItemInput {
    ItemInput {
        id: Some(id.into()),
        source: Some("weibo".into()),
        text: Some(text.into()),
        published_at: Some(at(day, 12)),
        ..Default::default()
    }
}

fn topic(id: &str, rule: &str, enabled: bool) -> TopicDraft {
    TopicDraft {
        id: id.into(),
        name: id.into(),
        rule: rule.into(),
        unit: Some("后勤集团".into()),
        severity: "high".into(),
        enabled,
    }
}

fn search_topic(p: &Pipeline, topic: &str) -> Vec<i64> {
    p.index().reload().unwrap();
    let req = SearchRequest { topics: vec![topic.into()], limit: 100, ..Default::default() };
    let mut ids: Vec<i64> = p.index().search(&req).unwrap().hits.iter().map(|h| h.item.0).collect();
    ids.sort();
    ids
}

#[test]
fn topic_hits_are_stored_versioned_searchable_and_backtested() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let seg = Segmenter::shared_default();
    let mut p = Pipeline::open(&dir, seg.clone(), PipelineConfig::default()).unwrap();
    let now = at(20, 0);
    let (canteen, changed) = p.db_mut().save_topic(&topic("canteen", "食堂 AND 腹泻", true), "test", now).unwrap();
    assert_eq!((canteen.version, changed), (1, true));
    p.db_mut().save_topic(&topic("off", "食堂", false), "test", now).unwrap();
    p.reload_topics().unwrap();
    assert_eq!(p.topics().len(), 1, "disabled topics are not matched");

    let r = p
        .ingest(
            &[
                item("a", "第三食堂多名学生腹泻", 10),
                item("b", "食堂今天开放了", 11),
                item("c", "學校食堂腹瀉事件後續", 12),
                item("d", "图书馆延长开放", 12),
            ],
            now,
        )
        .unwrap();
    assert_eq!(r.stored_topics, vec![vec!["canteen".to_string()], vec![], vec!["canteen".to_string()], vec![]]);
    p.flush().unwrap();
    assert_eq!(search_topic(&p, "canteen"), vec![1, 3]);
    assert!(search_topic(&p, "off").is_empty());

    // An edit is a new version; it applies to items stored from now on, not to earlier ones.
    let (edited, changed) = p.db_mut().save_topic(&topic("canteen", "食堂", true), "someone", now).unwrap();
    assert_eq!((edited.version, changed), (2, true));
    let (_, changed) = p.db_mut().save_topic(&topic("canteen", "食堂", true), "someone", now).unwrap();
    assert!(!changed, "saving the same definition is not a new version");
    let history = p.db().topic_versions(edited.key).unwrap();
    assert_eq!(
        history.iter().map(|v| (v.version, v.def.rule.as_str())).collect::<Vec<_>>(),
        vec![(1, "食堂 AND 腹泻"), (2, "食堂")]
    );
    assert_eq!(history[1].changed_by, "someone");
    p.reload_topics().unwrap();
    p.ingest(&[item("e", "食堂新菜品上线", 13)], now).unwrap();
    p.flush().unwrap();
    assert_eq!(search_topic(&p, "canteen"), vec![1, 3, 5], "item b keeps the result of version 1");

    // Per-day counts from the store.
    let counts = p.db().topic_hit_counts(edited.key, at(10, 0), at(14, 0), 86_400_000).unwrap();
    assert_eq!(counts.iter().map(|c| c.1).collect::<Vec<_>>(), vec![1, 0, 1, 1]);

    // The index is rebuilt from the store with the same topic hits.
    drop(p);
    std::fs::remove_dir_all(dir.index_dir()).unwrap();
    let p = Pipeline::open(&dir, seg, PipelineConfig::default()).unwrap();
    assert_eq!(search_topic(&p, "canteen"), vec![1, 3, 5]);

    // Backtest of a draft over the period ending on the 13th: hits per day, samples with spans.
    let (draft, _) = check_rule("draft", "食堂 NOT 腹泻").unwrap();
    let bt = backtest(p.db(), &draft, 5, at(13, 23), chrono_tz::Asia::Shanghai, 10).unwrap();
    assert_eq!(bt.scanned, 5);
    assert_eq!(bt.hits, 2);
    assert_eq!(bt.days.iter().map(|d| d.1).collect::<Vec<_>>(), vec![0, 0, 1, 0, 1], "hits on the 11th and 13th");
    assert_eq!(bt.days[0].0, at(9, 0), "days start at midnight, Asia/Shanghai");
    assert_eq!(bt.samples.len(), 2);
    for (s, spans) in &bt.samples {
        let marked: String = s.item.text.chars().skip(spans[0].start).take(spans[0].end - spans[0].start).collect();
        assert_eq!(marked, "食堂");
    }
}

#[test]
fn topics_learn_term_rarity_from_stored_items_and_refresh_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let config = PipelineConfig { rarity_refresh: std::time::Duration::ZERO, ..Default::default() };
    let mut p = Pipeline::open(&dir, Segmenter::shared_default().clone(), config).unwrap();
    p.db_mut().save_topic(&topic("canteen", "食堂 AND 腹泻", true), "test", at(20, 0)).unwrap();
    p.reload_topics().unwrap();
    assert_eq!(p.topics().learned_from(), 0, "an empty store has nothing to learn from");
    let batch = |from: usize, n: usize| -> Vec<ItemInput> {
        (from..from + n).map(|i| item(&format!("i{i}"), &format!("第{i}号通知：学校食堂今天照常开放"), 21)).collect()
    };
    let first = p.ingest(&batch(0, 150), at(21, 13)).unwrap();
    assert_eq!(first.stored.len(), 150);
    assert_eq!(p.topics().learned_from(), 0, "150 items are too few to learn from");
    p.ingest(&batch(150, 60), at(21, 13)).unwrap();
    assert_eq!(p.topics().learned_from(), 210, "compiled again once 200 items were stored");
    p.ingest(&batch(210, 10), at(21, 13)).unwrap();
    assert_eq!(p.topics().learned_from(), 210, "not again before half a sample more");
    // What matches does not depend on it.
    let hit = p.ingest(&[item("sick", "学校食堂有学生腹泻", 21)], at(21, 14)).unwrap();
    assert_eq!(hit.stored_topics, vec![vec!["canteen".to_string()]]);
    let miss = p.ingest(&[item("fine", "学校食堂今天照常开放", 21)], at(21, 14)).unwrap();
    assert_eq!(miss.stored_topics, vec![Vec::<String>::new()]);
}
