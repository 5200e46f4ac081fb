//! `tidewatch import` with hostile input: every bad row is reported with its line number and
//! reason, every good row goes in, and nothing stored is damaged.

use crate::common;
use common::*;
use serde_json::json;

#[test]
fn bad_rows_are_reported_and_good_rows_imported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A first, clean import: what must not be damaged later.
    let good = "{\"id\":\"g1\",\"source\":\"s\",\"text\":\"澜江理工大学图书馆延长开放时间\",\"published_at\":\"2026-10-01T08:00:00+08:00\"}\n";
    let o = run(&data, &["import", "--json", "-"], Some(good.as_bytes()));
    assert!(o.status.success(), "{}", stderr(&o));

    let mut f = Vec::new();
    f.extend_from_slice(
        b"{\"id\":\"a1\",\"text\":\"valid one: the canteen reopened\",\"published_at\":\"2026-10-02 10:00\"}\n",
    ); // 1
    f.extend_from_slice(b"{\"id\":\"a2\",\"text\":\"invalid \xff\xfe utf8\"}\n"); // 2
    f.extend_from_slice(b"{\"id\":\"a3\",\"text\": \"broken json\n"); // 3
    f.extend_from_slice(b"{\"id\":\"a4\",\"author\":\"x\"}\n"); // 4: no text
    f.extend_from_slice(b"{\"id\":\"a5\",\"text\":\""); // 5: a 50 MB line
    f.extend(std::iter::repeat_n(b'x', 50 << 20));
    f.extend_from_slice(b"\"}\n");
    f.extend_from_slice(b"{\"id\":\"a1\",\"text\":\"same id as line 1, different text\"}\n"); // 6
    f.extend_from_slice(b"{\"id\":\"a7\",\"text\":\"<div><script>alert(1)</script><p>HTML &amp; garbage <<b>>bold</p><style>p{}</style>\"}\n"); // 7
    f.extend_from_slice(b"{\"id\":\"a8\",\"text\":\"odd date\",\"published_at\":\"sometime last week\"}\n"); // 8
    f.extend_from_slice(b"{\"id\":\"a9\",\"text\":\"no date at all, still fine\"}\n"); // 9
    let long = format!("{{\"id\":\"a10\",\"text\":\"{}\"}}\n", "长".repeat(400_000)); // 10: 1.2 MB text
    f.extend_from_slice(long.as_bytes());
    f.extend_from_slice(b"[\"not\", \"an object\"]\n"); // 11
    f.extend_from_slice(b"{\"id\":\"a12\",\"title\":\"title only, 2026\",\"published_at\":1791000000}\n"); // 12
    f.extend_from_slice(b"{\"id\":\"g1\",\"source\":\"s\",\"text\":\"\xe6\xbe\x9c\xe6\xb1\x9f\xe7\x90\x86\xe5\xb7\xa5\xe5\xa4\xa7\xe5\xad\xa6\xe5\x9b\xbe\xe4\xb9\xa6\xe9\xa6\x86\xe5\xbb\xb6\xe9\x95\xbf\xe5\xbc\x80\xe6\x94\xbe\xe6\x97\xb6\xe9\x97\xb4\"}\n"); // 13: already stored
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, &f).unwrap();

    let o = run(&data, &["import", "--json", path.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let rejected: Vec<(u64, String)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["reason"].as_str().unwrap().to_string()))
        .collect();
    let lines: Vec<u64> = rejected.iter().map(|r| r.0).collect();
    assert_eq!(lines, vec![2, 3, 4, 5, 10, 11], "{rejected:?}");
    let reason = |l: u64| rejected.iter().find(|r| r.0 == l).unwrap().1.clone();
    assert!(reason(2).contains("invalid UTF-8"), "{}", reason(2));
    assert!(reason(3).contains("broken JSON"), "{}", reason(3));
    assert!(reason(4).contains("no text and no title"), "{}", reason(4));
    assert!(reason(5).contains("over the limit"), "{}", reason(5));
    assert!(reason(10).contains("refused, not truncated"), "{}", reason(10));
    assert!(reason(11).contains("expected a JSON object"), "{}", reason(11));
    assert_eq!(report["imported"], json!(5), "{report}"); // lines 1, 7, 8, 9, 12
    assert_eq!(report["already_stored"], json!(2), "{report}"); // lines 6 and 13
    let warnings: Vec<(u64, String)> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["line"].as_u64().unwrap(), w["message"].as_str().unwrap().to_string()))
        .collect();
    assert!(warnings.iter().any(|(l, m)| *l == 8 && m.contains("cannot read")), "{warnings:?}");
    assert!(warnings.iter().any(|(l, m)| *l == 6 && m.contains("different content")), "{warnings:?}");

    // The HTML row was cleaned; the clean earlier item is intact and still found.
    let o = run(&data, &["search", "--json", "garbage"], None);
    let hits = json_lines(&stdout(&o));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["id"], "a7");
    assert!(!hits[0]["snippet"].as_str().unwrap().contains("alert"), "{}", hits[0]);
    let o = run(&data, &["search", "--json", "图书馆"], None);
    let hits = json_lines(&stdout(&o));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["id"], "g1");
    assert_eq!(hits[0]["published_at"], "2026-10-01T00:00:00+00:00");

    // Human-readable output names each rejected row.
    let o = run(&data, &["import", path.to_str().unwrap()], None);
    let out = stdout(&o);
    assert!(
        out.starts_with("imported 0 items (0 collapsed into existing duplicate groups), 7 already stored, 6 rejected"),
        "{out}"
    );
    assert!(out.contains(&format!("rejected: {} line 5: line is", path.display())), "{out}");
}

#[test]
fn csv_rows_with_wrong_column_counts_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let csv = "id,source,title,text,published_at\n\
               c1,forum,标题,正文：校车班次太少,2026-10-05 08:00\n\
               c2,forum,only three,fields\n\
               c3,forum,\"quoted, with comma\",\"multi\nline text about heating\",2026/10/06\n\
               c4,forum,,,\n\
               c5,forum,t,too,many,fields,here\n";
    let path = dir.path().join("items.csv");
    std::fs::write(&path, csv).unwrap();
    let o = run(&data, &["import", "--json", path.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(report["imported"], json!(2), "{report}");
    let rejected: Vec<(u64, String)> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    assert_eq!(rejected[0], (3, "CSV row has 4 fields but the header has 5".to_string()));
    assert_eq!(rejected[1], (6, "the item has no text and no title (at least one is required)".to_string()));
    assert_eq!(rejected[2], (7, "CSV row has 7 fields but the header has 5".to_string()));
    let o = run(&data, &["search", "--json", "heating"], None);
    assert_eq!(json_lines(&stdout(&o))[0]["id"], "c3");
}

#[test]
fn reimport_is_idempotent_and_duplicates_collapse() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let items = [
        json!({"id": "o1", "source": "weibo", "text": "澜江理工大学第三食堂今天中午多名学生出现腹泻症状，学校已经介入调查", "published_at": "2026-10-11T12:00:00+08:00"}),
        json!({"id": "r1", "source": "weibo", "text": "太离谱了//@小王:澜江理工大学第三食堂今天中午多名学生出现腹泻症状，学校已经介入调查", "published_at": "2026-10-11T13:00:00+08:00"}),
        json!({"id": "r2", "source": "forum", "text": "瀾江理工大學第三食堂今天中午多名學生出現腹瀉症狀，學校已經介入調查 https://t.example/1", "published_at": "2026-10-11T11:00:00+08:00"}),
        json!({"id": "x1", "source": "twitter", "text": "Completely different: the library extends its opening hours during exams", "published_at": "2026-10-11T12:00:00+08:00"}),
    ];
    let input: String = items.iter().map(|i| format!("{i}\n")).collect();
    let o = run(&data, &["import", "--json", "-"], Some(input.as_bytes()));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!((report["imported"].as_u64(), report["duplicates_collapsed"].as_u64()), (Some(4), Some(2)), "{report}");
    let o = run(&data, &["import", "--json", "-"], Some(input.as_bytes()));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!((report["imported"].as_u64(), report["already_stored"].as_u64()), (Some(0), Some(4)), "{report}");
    // The group's original is the earliest published copy (r2, 11:00), with 2 reposts.
    let o = run(&data, &["search", "--json", "腹泻"], None);
    let hits = json_lines(&stdout(&o));
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|h| h["repost_count"] == 2 && h["group_id"] == hits[0]["group_id"]), "{hits:?}");
}
