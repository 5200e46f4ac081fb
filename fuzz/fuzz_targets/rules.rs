//! The rule parser and both rule evaluators on arbitrary input: the first line is a rule, the
//! rest is an item's text. Nothing may panic; a rule that parses must give the same answer, spans
//! included, from the compiled engine and from the reference evaluator.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tidewatch_text::rules::{evaluate_reference, parse_rule, RuleInput, RuleSet};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let (rule, text) = s.split_once('\n').unwrap_or((&s, ""));
    let (title, text) = text.split_once('\n').unwrap_or(("", text));
    let Ok(node) = parse_rule(rule) else { return };
    let input = RuleInput { title, text, url: Some("https://news.example.com/a"), source: "s", lang: "zh" };
    let want = evaluate_reference(&node, &input);
    let set = RuleSet::new(vec![node]);
    let got = set.matches(&input);
    assert_eq!(want.is_some(), !got.is_empty());
    if let (Some(w), Some(g)) = (want, got.first()) {
        assert_eq!(w, g.spans);
    }
    assert_eq!(set.matching(&input).len(), got.len());
});
