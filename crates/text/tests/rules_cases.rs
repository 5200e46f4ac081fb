//! The data-driven rule cases (`fixtures/rules_cases.tsv`): every case is checked with the
//! compiled engine and with the reference evaluator.

use tidewatch_text::rules::{evaluate_reference, parse_rule, RuleInput, RuleSet};

#[test]
fn every_rule_case_holds() {
    let data = include_str!("fixtures/rules_cases.tsv");
    let mut failures = Vec::new();
    let mut n = 0;
    for (i, line) in data.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let c: Vec<&str> = line.split('\t').collect();
        assert_eq!(c.len(), 7, "line {}: {line:?}", i + 1);
        n += 1;
        let expected = c[0] == "Y";
        let node = match parse_rule(c[1]) {
            Ok(n) => n,
            Err(e) => {
                failures.push(format!("line {}: {:?} does not parse: {e}", i + 1, c[1]));
                continue;
            }
        };
        let input = RuleInput { title: c[2], text: c[3], url: Some(c[4]), source: c[5], lang: c[6] };
        let reference = evaluate_reference(&node, &input).is_some();
        let compiled = !RuleSet::new(vec![node]).matches(&input).is_empty();
        if reference != expected || compiled != expected {
            failures.push(format!(
                "line {}: rule {:?} on title {:?} text {:?}: expected {expected}, reference {reference}, compiled {compiled}",
                i + 1,
                c[1],
                c[2],
                c[3]
            ));
        }
    }
    println!("rule cases: {n} checked, {} failed", failures.len());
    assert!(n >= 300, "only {n} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
