//! The analysis in the pipeline: every stored item gets a sentiment and a story; stories keep
//! their ids across restarts (a repost after a restart joins its original's story); a topic's
//! burst raises one signal with its explanation; signals are not raised again for items already
//! stored.

use chrono::{DateTime, Duration, TimeZone, Utc};
use tidewatch_engine::pipeline::Outcome;
use tidewatch_engine::{DataDir, Pipeline, PipelineConfig};
use tidewatch_model::{ItemId, ItemInput};
use tidewatch_store::TopicDraft;
use tidewatch_text::Segmenter;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap()
}

fn item(id: &str, source: &str, text: &str, at: DateTime<Utc>) -> ItemInput {
    ItemInput {
        id: Some(id.into()),
        source: Some(source.into()),
        text: Some(text.into()),
        published_at: Some(at),
        ..Default::default()
    }
}

fn stored(outcomes: &[Outcome]) -> Vec<ItemId> {
    outcomes.iter().filter_map(|o| if let Outcome::Stored { id, .. } = o { Some(*id) } else { None }).collect()
}

fn open(dir: &DataDir) -> Pipeline {
    Pipeline::open(dir, Segmenter::shared_default(), PipelineConfig::default()).unwrap()
}

#[test]
fn stories_survive_restarts_and_a_topic_burst_is_signalled_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = DataDir::new(tmp.path());
    let mut p = open(&dir);
    let topic = TopicDraft {
        id: "heating".into(),
        name: "heating".into(),
        rule: "暖气 AND (不热 OR 停了)".into(),
        unit: Some("后勤集团".into()),
        severity: "medium".into(),
        enabled: true,
    };
    p.db_mut().save_topic(&topic, "test", start()).unwrap();
    p.reload_topics().unwrap();

    // Five quiet days: a complaint every eight hours, and other talk.
    let mut quiet = Vec::new();
    for h in (0..120).step_by(8) {
        let at = start() + Duration::hours(h);
        quiet.push(item(
            &format!("q{h}"),
            "weibo",
            &format!("{}号楼暖气又不热了，第{}天了", h % 9 + 1, h / 24 + 1),
            at,
        ));
        quiet.push(item(
            &format!("o{h}"),
            "forum",
            &format!("图书馆今天{}点关门，考研的同学注意时间", h % 12 + 8),
            at + Duration::minutes(30),
        ));
    }
    let r = p.ingest(&quiet, start() + Duration::days(5)).unwrap();
    assert_eq!(stored(&r.outcomes).len(), quiet.len());
    let first = item(
        "s1",
        "weibo",
        "北苑九号楼宿舍暖气停了三天，后勤集团电话一直没人接，同学们冻得睡不着",
        start() + Duration::hours(121),
    );
    let r = p.ingest(std::slice::from_ref(&first), start() + Duration::hours(121)).unwrap();
    let first_id = stored(&r.outcomes)[0];
    let first_story = p.db().story_of(first_id).unwrap().expect("analysed");
    drop(p);

    // After a restart: a repost joins the original's story; a different event starts another.
    let mut p = open(&dir);
    let repost = item(
        "s2",
        "weibo",
        "太冷了//@小王:北苑九号楼宿舍暖气停了三天，后勤集团电话一直没人接，同学们冻得睡不着",
        start() + Duration::hours(122),
    );
    let other = item("s3", "news", "澜江理工大学运动会今日开幕，三千名学生参加开幕式", start() + Duration::hours(122));
    let r = p.ingest(&[repost, other], start() + Duration::hours(122)).unwrap();
    let ids = stored(&r.outcomes);
    assert_eq!(p.db().story_of(ids[0]).unwrap(), Some(first_story), "the repost joins the story after a restart");
    let other_story = p.db().story_of(ids[1]).unwrap().unwrap();
    assert!(other_story > first_story, "new stories get new ids, never reused");

    // A burst: 25 complaints within the hour, from several sources.
    let burst_at = start() + Duration::hours(123);
    let burst: Vec<ItemInput> = (0..25)
        .map(|i| {
            item(
                &format!("b{i}"),
                ["weibo", "forum", "zhihu", "douyin"][i % 4],
                &format!("南湖{}号楼暖气也停了，已经{}个小时了，宿舍只有{}度", i % 7 + 1, i + 2, 8 + i % 5),
                burst_at + Duration::minutes(2 * i as i64),
            )
        })
        .collect();
    p.ingest(&burst, burst_at + Duration::hours(1)).unwrap();
    let bursts = p.db().signals_of_kind("burst", 50).unwrap();
    let topic_bursts: Vec<_> = bursts.iter().filter(|s| s.topic.as_deref() == Some("heating")).collect();
    assert_eq!(topic_bursts.len(), 1, "one burst, one signal: {bursts:?}");
    let x: serde_json::Value = serde_json::from_str(&topic_bursts[0].explanation).unwrap();
    assert!(x["observed"].as_f64().unwrap() >= 5.0 && x["expected"].as_f64().unwrap() < 1.0, "{x}");
    assert!(x["score"].as_f64().unwrap() > 3.0, "{x}");
    assert_eq!(x["top_sources"].as_array().unwrap().len(), 4, "{x}");
    assert!(x["top_terms"].as_array().unwrap().iter().any(|t| t[0] == "暖气"), "{x}");
    assert!(!x["samples"].as_array().unwrap().is_empty());

    // The same items again (a re-import): already stored, nothing analysed or signalled twice.
    let before = p.db().signals(1000).unwrap().len();
    drop(p);
    let mut p = open(&dir);
    let r = p.ingest(&burst, burst_at + Duration::hours(2)).unwrap();
    assert!(r.outcomes.iter().all(|o| matches!(o, Outcome::AlreadyStored { .. })));
    assert_eq!(p.db().signals(1000).unwrap().len(), before);
    // Every stored item has a sentiment and a story.
    let total = p.db().count_items().unwrap();
    let stories = p.db().stories_since(start() - Duration::days(1), 10_000).unwrap();
    let placed: i64 = stories.iter().map(|s| s.items).sum();
    assert_eq!(placed as u64, total, "story item counts add up to the items stored");
}
