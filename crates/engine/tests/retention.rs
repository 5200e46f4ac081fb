//! Retention: items past the period leave the store and the search index with their topic hits;
//! held items (evidence of an open case) stay; topic counts and story volumes stay; the purge is
//! audited; a purge killed between the store and the index, or between batches, is finished by
//! the next run, and a second run changes nothing.

use chrono::{DateTime, Duration, TimeZone, Utc};
use tidewatch_engine::retention::{purge, set_retention_days};
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_model::{ItemId, ItemInput};
use tidewatch_store::{AuditFilter, SearchRequest, TopicDraft};
use tidewatch_text::Segmenter;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 4, 0, 0).unwrap()
}

fn item(id: usize, old: bool) -> ItemInput {
    let days = if old { 200 } else { 3 };
    ItemInput {
        id: Some(format!("i{id}")),
        source: Some("weibo".into()),
        text: Some(format!("第{id}号 食堂 饭菜 腹泻 事件 编号{id} 说明 {}", if old { "旧" } else { "新" })),
        author: Some(format!("author{id}")),
        published_at: Some(now() - Duration::days(days) + Duration::minutes(id as i64)),
        ..Default::default()
    }
}

/// A pipeline with 25 old items (stored 200 days ago) and 5 new ones, and a topic they all hit.
fn setup(dir: &DataDir) -> (Pipeline, Vec<ItemId>, Vec<ItemId>) {
    let mut p = Pipeline::open(dir, Segmenter::shared_default(), PipelineConfig::default()).unwrap();
    let topic = TopicDraft {
        id: "canteen".into(),
        name: "canteen".into(),
        rule: "食堂 AND 腹泻".into(),
        unit: None,
        severity: "high".into(),
        enabled: true,
    };
    p.db_mut().save_topic(&topic, "test", now() - Duration::days(300)).unwrap();
    p.reload_topics().unwrap();
    let old: Vec<ItemInput> = (0..25).map(|i| item(i, true)).collect();
    let new: Vec<ItemInput> = (100..105).map(|i| item(i, false)).collect();
    let stored = |r: tidewatch_engine::pipeline::BatchResult| r.stored.iter().map(|s| s.id).collect::<Vec<_>>();
    let old_ids = stored(p.ingest(&old, now() - Duration::days(200)).unwrap());
    let new_ids = stored(p.ingest(&new, now() - Duration::days(3)).unwrap());
    p.flush().unwrap();
    assert_eq!((old_ids.len(), new_ids.len()), (25, 5));
    (p, old_ids, new_ids)
}

fn indexed(p: &Pipeline) -> Vec<ItemId> {
    p.index().reload().unwrap();
    p.index().all_ids().unwrap()
}

fn topic_total(p: &Pipeline) -> u64 {
    let key = p.db().topic("canteen").unwrap().unwrap().key;
    p.db().topic_hit_counts(key, now() - Duration::days(400), now(), 86_400_000).unwrap().iter().map(|(_, n)| n).sum()
}

fn story_volume_total(p: &Pipeline) -> i64 {
    let stories = p.db().stories_since(now() - Duration::days(400), 1000).unwrap();
    stories.iter().map(|s| s.items).sum()
}

#[test]
fn items_past_the_period_go_and_aggregates_and_held_items_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let (mut p, old, new) = setup(&dir);
    let held = old[7];
    p.db_mut().hold_item(held, "case:1").unwrap();
    let (hits_before, stories_before) = (topic_total(&p), story_volume_total(&p));
    assert_eq!(hits_before, 30);
    assert_eq!(indexed(&p).len(), 30);

    let report = purge(&mut p, now(), 4, None).unwrap().expect("something was due");
    assert_eq!(report.purged, 24);
    assert_eq!(report.cutoff, now() - Duration::days(180));
    for id in &old {
        assert_eq!(p.db().item_exists(*id).unwrap(), *id == held, "item {id}");
    }
    let mut left = indexed(&p);
    left.sort();
    let mut want: Vec<ItemId> = new.iter().copied().chain([held]).collect();
    want.sort();
    assert_eq!(left, want, "the search index holds only what the store holds");
    let hits = p.index().search(&SearchRequest { query: "旧".into(), limit: 100, ..Default::default() }).unwrap();
    assert_eq!(hits.hits.iter().map(|h| h.item).collect::<Vec<_>>(), vec![held], "search finds only the held old item");
    assert!(p.db().newest_items(100).unwrap().iter().all(|s| !old.contains(&s.id) || s.id == held));
    assert_eq!(topic_total(&p), hits_before, "topic counts stay");
    assert_eq!(story_volume_total(&p), stories_before, "story counts stay");

    let audit = p
        .db()
        .audit_entries(&AuditFilter { action: Some("retention.purge".into()), limit: 10, ..Default::default() })
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert!(audit[0].detail.contains("\"purged\":24"), "{}", audit[0].detail);

    // A second run has nothing to do and writes nothing.
    assert_eq!(purge(&mut p, now(), 4, None).unwrap(), None);
    let audit = p
        .db()
        .audit_entries(&AuditFilter { action: Some("retention.purge".into()), limit: 10, ..Default::default() })
        .unwrap();
    assert_eq!(audit.len(), 1);

    // Released when the case closes: the next run takes it.
    p.db_mut().release_holds("case:1").unwrap();
    assert_eq!(purge(&mut p, now(), 4, None).unwrap().map(|r| r.purged), Some(1));
    // New items get ids above every id ever given, also those purged.
    let r = p.ingest(&[item(500, false)], now()).unwrap();
    assert!(r.stored[0].id > *new.iter().max().unwrap());
}

#[test]
fn a_purge_killed_half_way_is_completed_by_the_next_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let (mut p, old, _) = setup(&dir);
    set_retention_days(p.db_mut(), "admin", None, 30, now()).unwrap();
    // Two batches, then the process dies (no flush, nothing finished). The run is recorded as
    // another process's, as it would be after a restart.
    assert_eq!(purge(&mut p, now(), 5, Some(2)).unwrap(), None);
    let mut run: serde_json::Value = serde_json::from_str(&p.db().meta("retention_run").unwrap().unwrap()).unwrap();
    run["process"] = serde_json::json!(0);
    p.db_mut().set_meta("retention_run", &run.to_string()).unwrap();
    // And the worst moment: a batch committed in the store, not yet deleted from the index.
    let cutoff = now() - Duration::days(30);
    let gone = p.db_mut().purge_items_before(cutoff, 5).unwrap();
    assert_eq!(gone.len(), 5);
    drop(p);

    let mut p = Pipeline::open(&dir, Segmenter::shared_default(), PipelineConfig::default()).unwrap();
    let report = purge(&mut p, now(), 5, None).unwrap().expect("the interrupted run is finished");
    assert!(report.resumed);
    assert_eq!(report.cutoff, cutoff);
    assert!(old.iter().all(|id| !p.db().item_exists(*id).unwrap()));
    assert_eq!(indexed(&p).len(), 5, "only the new items are in the index");
    assert!(p.db().purge_pending().unwrap().is_empty());
    assert_eq!(topic_total(&p), 30, "topic counts stay");
    assert_eq!(p.db().meta("retention_run").unwrap(), None);
    let audit = p.db().audit_entries(&AuditFilter { limit: 10, ..Default::default() }).unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert!(
        audit[0].detail.contains("\"purged\":25") && audit[0].detail.contains("\"resumed\":true"),
        "{}",
        audit[0].detail
    );
    assert_eq!(actions, vec!["retention.purge", "settings.retention"]);
}
