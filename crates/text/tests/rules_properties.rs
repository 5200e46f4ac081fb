//! The compiled rule engine agrees with the plain tree-walking evaluator on random rules and
//! random Chinese and English texts, and the parser never panics.

use proptest::prelude::*;
use std::sync::LazyLock;
use tidewatch_text::rules::{evaluate_reference, parse_rule, RuleInput, RuleSet, MIN_RARITY_SAMPLE};

const WORDS: &[&str] = &[
    "食堂",
    "学校",
    "腹泻",
    "臺灣",
    "台湾",
    "安全",
    "食",
    "堂",
    "canteen",
    "Canteen",
    "school",
    "protest",
    "protesters",
    "cat",
    "category",
    "food",
    "poisoning",
    "学生",
    "通报",
    "谣言",
    "covid-19",
    "ＡＢＣ",
    "abc",
];

fn term() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(String::from),
        1 => prop::sample::select(&["protest*", "cat*", "poison*"][..]).prop_map(String::from),
        1 => (prop::sample::select(WORDS), prop::sample::select(WORDS)).prop_map(|(a, b)| format!("\"{a} {b}\"")),
        1 => (prop::sample::select(&["title:", "text:"][..]), prop::sample::select(WORDS)).prop_map(|(f, w)| format!("{f}{w}")),
        1 => prop::sample::select(&["lang:zh", "lang:en", "source:s", "site:example.com", "site:ample.com", "url:news"][..]).prop_map(String::from),
    ]
}

/// A word or phrase, or an OR-group of them (what NEAR accepts).
fn near_operand() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        3 => prop::sample::select(WORDS).prop_map(String::from),
        1 => (prop::sample::select(WORDS), prop::sample::select(WORDS)).prop_map(|(a, b)| format!("\"{a} {b}\"")),
    ];
    prop_oneof![
        3 => word.clone(),
        1 => (word.clone(), word).prop_map(|(a, b)| format!("({a} OR {b})")),
    ]
}

fn rule() -> impl Strategy<Value = String> {
    term().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} NOT {b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a} {b}")),
            (near_operand(), near_operand(), 0u32..4, any::<bool>())
                .prop_map(|(a, b, n, f)| format!("({a} NEAR/{n}{} {b})", if f { "f" } else { "" })),
        ]
    })
}

fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => prop::sample::select(WORDS).prop_map(String::from),
        2 => prop::sample::select(&[" ", "，", "。", "、", "-", " - ", "的", "了", "x"][..]).prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..25).prop_map(|v| v.concat())
}

/// Recent items to learn rarity from: each of the first words in most of them, the others rarely,
/// so that the learned rarity disagrees with the dictionary's.
static SAMPLE: LazyLock<Vec<String>> = LazyLock::new(|| {
    (0..MIN_RARITY_SAMPLE + 50)
        .map(|i| {
            let common = WORDS.iter().take(6).filter(|_| i % 7 != 0).copied().collect::<Vec<_>>().join("，");
            format!("{common} {}", WORDS[i % WORDS.len()])
        })
        .collect()
});

proptest! {
    #![proptest_config(ProptestConfig::with_cases(std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(600)))]

    #[test]
    fn compiled_engine_agrees_with_reference(rules in prop::collection::vec(rule(), 1..6), title in text(), body in text()) {
        let parsed: Vec<_> = rules.iter().filter_map(|r| parse_rule(r).ok()).collect();
        let input = RuleInput { title: &title, text: &body, url: Some("https://www.example.com/news/1"), source: "s", lang: "zh" };
        let set = RuleSet::new(parsed.clone());
        let compiled = set.matches(&input);
        let ids: Vec<usize> = compiled.iter().map(|m| m.rule).collect();
        prop_assert_eq!(set.matching(&input), ids, "matching() and matches() agree");
        let sample: Vec<RuleInput<'_>> = SAMPLE.iter().map(|t| RuleInput { text: t, ..RuleInput::default() }).collect();
        let tuned = RuleSet::tuned(parsed.clone(), &sample);
        prop_assert_eq!(&tuned.matches(&input), &compiled, "learned rarity changes speed, never results");
        let mut got = compiled.iter();
        for (i, node) in parsed.iter().enumerate() {
            let want = evaluate_reference(node, &input);
            match want {
                Some(spans) => {
                    let m = got.next();
                    prop_assert_eq!(m.map(|m| m.rule), Some(i), "rule {:?} should match", node);
                    prop_assert_eq!(&m.unwrap().spans, &spans);
                }
                None => prop_assert!(compiled.iter().all(|m| m.rule != i), "rule {:?} should not match", node),
            }
        }
    }

    #[test]
    fn parser_never_panics(s in ".{0,80}") {
        let _ = parse_rule(&s);
    }

    #[test]
    fn parser_never_panics_on_rule_like_input(parts in prop::collection::vec(prop::sample::select(&[
        "AND", "OR", "NOT", "NEAR/2", "NEAR/0f", "NEAR/", "(", ")", "\"", "title:", "site:", "bogus:", "食堂", "a*", "*", ":", "“", "）", "（"
    ][..]), 0..20)) {
        let s = parts.join(" ");
        if let Err(e) = parse_rule(&s) {
            prop_assert!(e.column >= 1 && e.column <= s.chars().count() + 1, "{}: {}", s, e);
        }
    }
}

#[test]
fn generated_rules_mostly_parse_and_sometimes_match() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut parsed, mut matched) = (0, 0);
    for _ in 0..500 {
        let r = rule().new_tree(&mut runner).unwrap().current();
        let t = text().new_tree(&mut runner).unwrap().current();
        if let Ok(node) = parse_rule(&r) {
            parsed += 1;
            if evaluate_reference(&node, &RuleInput { title: "", text: &t, url: None, source: "s", lang: "zh" })
                .is_some()
            {
                matched += 1;
            }
        }
    }
    println!("random rules: {parsed}/500 parse, {matched} match their random text");
    assert!(parsed > 300 && matched > 50, "{parsed} {matched}");
}
