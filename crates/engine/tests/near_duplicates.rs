//! Grouping quality on the labelled near-duplicate fixture (`fixtures/near_duplicates.jsonl`):
//! pairwise precision and recall of the predicted groups against the labels.

use chrono::Utc;
use std::collections::HashMap;
use tidewatch_engine::analyze::analyze_all;
use tidewatch_model::ItemInput;
use tidewatch_text::dedup::DedupConfig;
use tidewatch_text::Segmenter;

#[test]
fn near_duplicate_grouping_has_high_precision_and_recall() {
    let data = include_str!("fixtures/near_duplicates.jsonl");
    let now = Utc::now();
    let mut rows = Vec::new();
    let mut truth: Vec<String> = Vec::new();
    let mut predicted: Vec<String> = Vec::new();
    let mut texts = Vec::new();
    for (n, line) in data.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let input = ItemInput {
            id: Some(v["id"].as_str().unwrap().to_string()),
            text: Some(v["text"].as_str().unwrap().to_string()),
            ..Default::default()
        };
        truth.push(v["group"].as_str().unwrap().to_string());
        texts.push(input.text.clone().unwrap());
        rows.push((n as u64 + 1, input));
    }
    for a in analyze_all(&rows, now, &Segmenter::shared_default(), DedupConfig::default()) {
        let a = a.unwrap();
        predicted.push(a.duplicate_of.unwrap_or(a.id));
    }
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    let mut errors = Vec::new();
    for i in 0..truth.len() {
        for j in i + 1..truth.len() {
            let same_truth = truth[i] == truth[j];
            let same_pred = predicted[i] == predicted[j];
            match (same_truth, same_pred) {
                (true, true) => tp += 1,
                (false, true) => {
                    fp += 1;
                    errors.push(format!("false merge: {:?} / {:?}", texts[i], texts[j]));
                }
                (true, false) => {
                    fn_ += 1;
                    errors.push(format!("missed: {:?} / {:?}", texts[i], texts[j]));
                }
                _ => {}
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fn_).max(1) as f64;
    let groups: HashMap<&String, usize> = truth.iter().fold(HashMap::new(), |mut m, g| {
        *m.entry(g).or_default() += 1;
        m
    });
    println!(
        "near-duplicate fixture: {} items, {} labelled groups; pairwise precision {precision:.3}, recall {recall:.3} ({tp} true pairs found, {fp} false, {fn_} missed)",
        truth.len(),
        groups.len()
    );
    for e in errors.iter().take(20) {
        println!("  {e}");
    }
    assert!(precision >= 0.95, "precision {precision:.3} < 0.95");
    assert!(recall >= 0.95, "recall {recall:.3} < 0.95");
}
