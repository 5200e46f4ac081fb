//! Topics (专题) from a TOML file: `[[topic]]` tables with `id` and `rule` (and optional `name`,
//! `unit`, `severity`, `enabled`). Every topic is checked on its own: one bad rule is reported
//! with its topic id and column and does not stop the others from loading.

use serde::Deserialize;
use tidewatch_text::rules::{parse_rule, Field, Node, RuleError, RuleSet};

/// A topic as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    /// Stable id.
    pub id: String,
    /// The boolean rule (see `docs/rules.md`).
    pub rule: String,
    /// Display name.
    pub name: Option<String>,
    /// Owning unit.
    pub unit: Option<String>,
    /// Alert severity: `low`, `medium`, `high` or `critical`.
    pub severity: Option<String>,
    /// Disabled topics are checked but not matched.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicsFile {
    #[serde(default)]
    topic: Vec<toml::Value>,
}

/// A problem found in a topics file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDiagnostic {
    /// The topic's id (or `#n` for the n-th table when it has none).
    pub topic: String,
    /// Error (the topic is not loaded) or warning.
    pub error: bool,
    /// 1-based column in the rule, when the problem is in the rule.
    pub column: Option<usize>,
    /// English message.
    pub message: String,
    /// Chinese message.
    pub message_zh: String,
}

impl std::fmt::Display for TopicDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.error { "error" } else { "warning" };
        match self.column {
            Some(c) => {
                write!(f, "topic {}: {kind}: column {c}: {} / 第 {c} 列：{}", self.topic, self.message, self.message_zh)
            }
            None => write!(f, "topic {}: {kind}: {} / {}", self.topic, self.message, self.message_zh),
        }
    }
}

/// A loaded topic.
#[derive(Debug, Clone)]
pub struct Topic {
    /// Its configuration.
    pub config: TopicConfig,
    /// Its parsed rule.
    pub rule: Node,
}

const STOP_WORDS: &[&str] = &[
    "的", "了", "是", "在", "和", "也", "就", "都", "而", "及", "与", "着", "或", "一个", "没有", "我们", "你们",
    "他们", "the", "a", "an", "of", "to", "and", "or", "in", "on", "is", "are", "was", "for", "with", "at", "by", "it",
    "this", "that",
];

/// Warnings for a parsed rule: duplicate terms, stop words, very broad single characters, and
/// operators whose operands repeat (so they cannot change the result).
pub fn lint(node: &Node) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut seen: Vec<(Field, String, bool)> = Vec::new();
    node.for_each_leaf(false, &mut |leaf, _| {
        let key = (leaf.field, leaf.text.clone(), leaf.phrase);
        if seen.contains(&key) {
            out.push((leaf.column, format!("duplicate term {:?}", leaf.text), format!("重复的词 {:?}", leaf.text)));
        } else {
            seen.push(key);
        }
        if !leaf.field.is_metadata() {
            if STOP_WORDS.contains(&leaf.text.as_str()) {
                out.push((
                    leaf.column,
                    format!("{:?} is a stop word: it matches almost every item", leaf.text),
                    format!("{:?} 是停用词，几乎匹配所有条目", leaf.text),
                ));
            } else if !leaf.phrase && leaf.text.chars().count() == 1 && !leaf.text.is_ascii() {
                out.push((
                    leaf.column,
                    format!("{:?} is a single character: a very broad term", leaf.text),
                    format!("{:?} 是单个字，范围过宽", leaf.text),
                ));
            }
        }
    });
    fn walk(n: &Node, out: &mut Vec<(usize, String, String)>) {
        match n {
            Node::And(v) | Node::Or(v) => {
                let shapes: Vec<Node> = v.iter().map(without_columns).collect();
                for (i, a) in v.iter().enumerate() {
                    if shapes[..i].contains(&shapes[i]) {
                        let col = first_column(a);
                        out.push((col, "this operand repeats an earlier one of the same operator: the operator cannot change the result".into(), "该操作数与同一运算符的前一个操作数重复，运算符不改变结果".into()));
                    }
                }
                v.iter().for_each(|c| walk(c, out));
            }
            Node::Not(c) => walk(c, out),
            Node::Near { a, b, .. } => {
                walk(a, out);
                walk(b, out);
            }
            Node::Leaf(_) => {}
        }
    }
    fn without_columns(n: &Node) -> Node {
        match n {
            Node::Leaf(l) => Node::Leaf(tidewatch_text::rules::Leaf { column: 0, ..l.clone() }),
            Node::And(v) => Node::And(v.iter().map(without_columns).collect()),
            Node::Or(v) => Node::Or(v.iter().map(without_columns).collect()),
            Node::Not(c) => Node::Not(Box::new(without_columns(c))),
            Node::Near { a, b, n, ordered } => Node::Near {
                a: Box::new(without_columns(a)),
                b: Box::new(without_columns(b)),
                n: *n,
                ordered: *ordered,
            },
        }
    }
    fn first_column(n: &Node) -> usize {
        let mut col = 1;
        let mut done = false;
        n.for_each_leaf(false, &mut |l, _| {
            if !done {
                col = l.column;
                done = true;
            }
        });
        col
    }
    walk(node, &mut out);
    out.sort();
    out.dedup();
    out
}

/// Loads topics from TOML text. Returns the topics that loaded and every diagnostic.
pub fn load_topics(src: &str) -> (Vec<Topic>, Vec<TopicDiagnostic>) {
    let mut topics = Vec::new();
    let mut diags = Vec::new();
    let file: TopicsFile = match toml::from_str(src) {
        Ok(f) => f,
        Err(e) => {
            diags.push(TopicDiagnostic {
                topic: "(file)".into(),
                error: true,
                column: None,
                message: format!("not a valid topics file: {}", e.message()),
                message_zh: format!("专题文件格式错误：{}", e.message()),
            });
            return (topics, diags);
        }
    };
    let mut ids = std::collections::HashSet::new();
    for (n, value) in file.topic.into_iter().enumerate() {
        let fallback =
            value.get("id").and_then(|v| v.as_str()).map(String::from).unwrap_or_else(|| format!("#{}", n + 1));
        let config: TopicConfig = match value.try_into() {
            Ok(c) => c,
            Err(e) => {
                diags.push(TopicDiagnostic {
                    topic: fallback,
                    error: true,
                    column: None,
                    message: e.to_string().trim().to_string(),
                    message_zh: format!("专题配置错误：{}", e.to_string().trim()),
                });
                continue;
            }
        };
        if !ids.insert(config.id.clone()) {
            diags.push(TopicDiagnostic {
                topic: config.id.clone(),
                error: true,
                column: None,
                message: "duplicate topic id".into(),
                message_zh: "专题 id 重复".into(),
            });
            continue;
        }
        if let Some(s) = &config.severity {
            if !["low", "medium", "high", "critical"].contains(&s.as_str()) {
                diags.push(TopicDiagnostic {
                    topic: config.id.clone(),
                    error: true,
                    column: None,
                    message: format!("severity {s:?} is not one of low, medium, high, critical"),
                    message_zh: format!("严重级别 {s:?} 应为 low、medium、high、critical 之一"),
                });
                continue;
            }
        }
        match parse_rule(&config.rule) {
            Ok(rule) => {
                for (column, en, zh) in lint(&rule) {
                    diags.push(TopicDiagnostic {
                        topic: config.id.clone(),
                        error: false,
                        column: Some(column),
                        message: en,
                        message_zh: zh,
                    });
                }
                topics.push(Topic { config, rule });
            }
            Err(RuleError { column, message, message_zh }) => {
                diags.push(TopicDiagnostic {
                    topic: config.id.clone(),
                    error: true,
                    column: Some(column),
                    message,
                    message_zh,
                });
            }
        }
    }
    (topics, diags)
}

/// The enabled topics compiled together, with their ids in rule order.
pub fn compile(topics: &[Topic]) -> (RuleSet, Vec<String>) {
    let enabled: Vec<&Topic> = topics.iter().filter(|t| t.config.enabled).collect();
    (
        RuleSet::new(enabled.iter().map(|t| t.rule.clone()).collect()),
        enabled.iter().map(|t| t.config.id.clone()).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bad_topic_does_not_stop_the_others() {
        let src = r#"
[[topic]]
id = "canteen"
rule = "食堂 AND (腹泻 OR 呕吐)"
severity = "high"

[[topic]]
id = "broken"
rule = "食堂 AND (腹泻 OR"

[[topic]]
id = "lint"
rule = "食堂 OR 食堂 OR 的 OR 堂"

[[topic]]
id = "typo"
rule = "x"
severty = "high"
"#;
        let (topics, diags) = load_topics(src);
        let ids: Vec<&str> = topics.iter().map(|t| t.config.id.as_str()).collect();
        assert_eq!(ids, vec!["canteen", "lint"]);
        let broken = diags.iter().find(|d| d.topic == "broken").unwrap();
        assert!(broken.error && broken.column == Some(14), "{broken}");
        assert!(diags.iter().any(|d| d.topic == "typo" && d.error && d.message.contains("severty")), "{diags:?}");
        let lint: Vec<&TopicDiagnostic> = diags.iter().filter(|d| d.topic == "lint").collect();
        assert!(lint.iter().all(|d| !d.error));
        assert!(lint.iter().any(|d| d.message.contains("duplicate term")), "{lint:?}");
        assert!(lint.iter().any(|d| d.message.contains("stop word")), "{lint:?}");
        assert!(lint.iter().any(|d| d.message.contains("single character")), "{lint:?}");
        assert!(lint.iter().any(|d| d.message.contains("cannot change the result")), "{lint:?}");
    }
}
