//! An import killed with SIGKILL part-way loses no acknowledged item; re-running it stores
//! nothing twice; and the search index agrees with the store afterwards.

use crate::common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use tidewatch_model::ItemId;
use tidewatch_store::{Db, SearchIndex};
use tidewatch_text::Segmenter;

const N: usize = 40_000;

fn store_state(data: &std::path::Path) -> (u64, u64, Vec<ItemId>) {
    let db = Db::open(data).unwrap();
    db.integrity_check().unwrap();
    let count = db.count_items().unwrap();
    let ids: Vec<ItemId> = db.items_after(ItemId(0), usize::MAX >> 1).unwrap().iter().map(|s| s.id).collect();
    let distinct_ext: std::collections::HashSet<String> =
        db.items_after(ItemId(0), usize::MAX >> 1).unwrap().into_iter().filter_map(|s| s.item.ext_id).collect();
    assert_eq!(ids.len() as u64, count);
    (count, distinct_ext.len() as u64, ids)
}

#[test]
fn sigkill_mid_import_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = dir.path().join("big.jsonl");
    let mut body = String::new();
    for (i, text) in synthetic_items(N, 42).into_iter().enumerate() {
        body.push_str(&serde_json::json!({"id": format!("k{i}"), "source": "bulk", "text": text}).to_string());
        body.push('\n');
    }
    std::fs::write(&path, body).unwrap();

    let mut child = tidewatch(&data)
        .args(["import", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut acknowledged = 0u64;
    let mut acks = 0;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split(": committed through line ").nth(1) {
            // "<line>: <n> items stored"
            let n: u64 = rest.split(": ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
            acknowledged = n;
            acks += 1;
            if acks == 3 {
                // SIGKILL: no chance to clean up.
                unsafe_kill(child.id());
                break;
            }
        }
    }
    let status = child.wait().unwrap();
    assert!(!status.success(), "the import should have been killed");
    assert!(acknowledged > 0 && acknowledged < N as u64, "acknowledged {acknowledged}");
    let (after_kill, distinct, _) = store_state(&data);
    println!("killed after {acknowledged} acknowledged items; {after_kill} found in the store");
    assert!(after_kill >= acknowledged, "acknowledged {acknowledged}, stored {after_kill}");
    assert_eq!(distinct, after_kill, "an item was stored twice");

    let o = run(&data, &["import", "--json", path.to_str().unwrap()], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(report["imported"].as_u64().unwrap() + report["already_stored"].as_u64().unwrap(), N as u64, "{report}");
    assert_eq!(report["already_stored"].as_u64().unwrap(), after_kill, "{report}");
    let (count, distinct, ids) = store_state(&data);
    assert_eq!((count, distinct), (N as u64, N as u64));

    let index = SearchIndex::open(&data.join("index"), Segmenter::shared_default(), false).unwrap();
    assert_eq!(index.all_ids().unwrap(), ids, "the search index disagrees with the store");
    // And a search finds items from before and after the kill.
    let o = run(&data, &["search", "--json", "--limit", "1", "第6条"], None);
    let hits = json_lines(&stdout(&o));
    assert_eq!(hits.first().map(|h| h["id"].clone()), Some(serde_json::json!("k6")), "{}{}", stdout(&o), stderr(&o));
    let last = format!("第{}条", N - 2);
    let o = run(&data, &["search", "--json", "--limit", "1", &last], None);
    assert_eq!(json_lines(&stdout(&o))[0]["id"], format!("k{}", N - 2));
}

fn unsafe_kill(pid: u32) {
    let ok = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success();
    assert!(ok, "kill -KILL {pid} failed");
}
