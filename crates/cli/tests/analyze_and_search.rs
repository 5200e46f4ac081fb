//! The formats of `analyze` and `search --json`, and search features (phrases, filters, order).

use crate::common;
use common::*;
use serde_json::json;

#[test]
fn analyze_prints_one_line_per_valid_input_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = [
        json!({"id": "a", "text": "澜江理工大学第三食堂今天中午多名学生出现腹泻症状，学校已经介入调查"}).to_string(),
        "{broken".to_string(),
        json!({"text": "RT @lut_news: The No. 3 canteen at Lanjiang University of Technology is closed after students fell ill"}).to_string(),
        json!({"id": "c", "text": "太离谱了//@小王:澜江理工大学第三食堂今天中午多名学生出现腹泻症状，学校已经介入调查"}).to_string(),
        json!({"id": "d", "title": ""}).to_string(),
        json!({"id": "e", "text": "The No. 3 canteen at Lanjiang University of Technology is closed after students fell ill https://t.example/9"}).to_string(),
        json!({"id": "f", "text": "Die Mensa ist heute geschlossen, weil viele Studenten krank sind"}).to_string(),
    ]
    .join("\n");
    let o = run(dir.path(), &["analyze", "-"], Some(input.as_bytes()));
    assert!(o.status.success());
    let out = json_lines(&stdout(&o));
    let ids: Vec<&str> = out.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["a", "3", "c", "e", "f"]);
    assert_eq!(out[0]["lang"], "zh");
    assert_eq!(out[1]["lang"], "en");
    assert_eq!(out[4]["lang"], "other");
    assert!(out.iter().all(|v| v["simhash"].as_str().unwrap().len() == 16
        && u64::from_str_radix(v["simhash"].as_str().unwrap(), 16).is_ok()));
    assert_eq!(out[0]["duplicate_of"], serde_json::Value::Null);
    assert_eq!(out[2]["duplicate_of"], "a");
    assert_eq!(out[3]["duplicate_of"], "3");
    assert_eq!(out[4]["duplicate_of"], serde_json::Value::Null);
    // Sentiment and stories: every line has both; the Chinese post and its repost share a story,
    // the English report and its retweet share another.
    for v in &out {
        let label = v["sentiment"]["label"].as_str().unwrap();
        assert!(["negative", "neutral", "positive"].contains(&label), "{v}");
        let score = v["sentiment"]["score"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&score), "{v}");
        assert!(v["story"].as_str().unwrap().parse::<u64>().is_ok(), "{v}");
    }
    assert_eq!(out[0]["story"], out[2]["story"]);
    assert_eq!(out[1]["story"], out[3]["story"]);
    assert_ne!(out[0]["story"], out[1]["story"]);
    assert!(out[0]["sentiment"]["score"].as_f64().unwrap() < 0.0, "{}", out[0]);
    let err = stderr(&o);
    assert!(err.contains("line 2: broken JSON"), "{err}");
    assert!(err.contains("line 5: the item has no text"), "{err}");
}

fn import_demo_like(data: &std::path::Path) {
    let items = [
        json!({"id": "n1", "source": "news", "title": "澜江理工大学食堂事件调查结果公布", "text": "市场监管局通报，第三食堂凉拌菜检出致病菌。", "url": "https://news.example/1?utm_source=x", "published_at": "2026-10-15T16:00:00+08:00"}),
        json!({"id": "n2", "source": "weibo", "text": "臺灣同學也在問澜江理工食堂的事情", "published_at": "2026-10-13T09:00:00+08:00"}),
        json!({"id": "n3", "source": "twitter", "text": "Test finds bacteria in canteen salad behind student illness at Lanjiang", "published_at": "2026-10-15T18:00:00+08:00"}),
        json!({"id": "n4", "source": "twitter", "text": "The library is open late; the canteen food is fine today", "published_at": "2026-10-20T18:00:00+08:00"}),
        json!({"id": "n5", "source": "forum", "text": "食品安全很重要，学校食堂要加强检查", "published_at": "2026-10-21T10:00:00+08:00"}),
    ];
    let input: String = items.iter().map(|i| format!("{i}\n")).collect();
    let o = run(data, &["import", "-"], Some(input.as_bytes()));
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn search_json_has_the_documented_fields_and_highlights() {
    let dir = tempfile::tempdir().unwrap();
    import_demo_like(dir.path());
    let o = run(dir.path(), &["search", "--json", "食堂"], None);
    let hits = json_lines(&stdout(&o));
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert_eq!(hits[0]["id"], "n1", "title matches rank first: {hits:?}");
    for h in &hits {
        for field in ["id", "title", "url", "published_at", "snippet"] {
            assert!(h.get(field).is_some(), "missing {field}: {h}");
        }
        assert!(h["snippet"].as_str().unwrap().contains("<b>食堂</b>"), "{h}");
    }
    assert_eq!(hits[0]["url"], "https://news.example/1?utm_source=x");
    assert_eq!(hits[0]["published_at"], "2026-10-15T08:00:00+00:00");

    // Traditional in the text, simplified in the query — and the reverse.
    let o = run(dir.path(), &["search", "--json", "台湾"], None);
    let hits = json_lines(&stdout(&o));
    assert_eq!(hits.len(), 1);
    assert!(hits[0]["snippet"].as_str().unwrap().contains("<b>臺灣</b>"), "{}", hits[0]);

    // English, case-insensitive, phrase, newest first.
    let o = run(dir.path(), &["search", "--json", "--sort", "newest", "CANTEEN"], None);
    let ids: Vec<String> = json_lines(&stdout(&o)).iter().map(|h| h["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, vec!["n4", "n3"]);
    let o = run(dir.path(), &["search", "--json", "\"canteen salad\""], None);
    assert_eq!(json_lines(&stdout(&o)).len(), 1);
    let o = run(dir.path(), &["search", "--json", "\"salad canteen\""], None);
    assert_eq!(json_lines(&stdout(&o)).len(), 0);

    // Filters: time range, source, language, exclusion.
    let o = run(dir.path(), &["search", "--json", "--since", "2026-10-14", "--until", "2026-10-16", "食堂"], None);
    assert_eq!(json_lines(&stdout(&o)).len(), 1);
    let o = run(dir.path(), &["search", "--json", "--source", "forum", "食堂"], None);
    assert_eq!(json_lines(&stdout(&o))[0]["id"], "n5");
    let o = run(dir.path(), &["search", "--json", "--lang", "en", "canteen"], None);
    assert_eq!(json_lines(&stdout(&o)).len(), 2);
    let o = run(dir.path(), &["search", "--json", "食堂 -凉拌菜"], None);
    assert_eq!(json_lines(&stdout(&o)).len(), 2);

    // Bad input to search says what is wrong.
    let o = run(dir.path(), &["search", "--since", "someday", "食堂"], None);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--since: cannot read"), "{}", stderr(&o));
}
