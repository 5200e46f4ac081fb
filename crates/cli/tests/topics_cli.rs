//! `tidewatch topics load|list|backtest|counts` and `search --topic` on a data directory: one bad
//! topic does not stop the others; a bad draft rule gets the same positioned error as everywhere.

mod common;
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
