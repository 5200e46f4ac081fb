//! Topics (专题) from a TOML file: `[[topic]]` tables with `id` and `rule` (and optional `name`,
//! `unit`, `severity`, `enabled`). Every topic is checked on its own: one bad rule is reported
//! with its topic id and column and does not stop the others from loading.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use tidewatch_model::{Item, ItemId};
use tidewatch_store::{Db, StoreError, StoredItem, TopicDraft, TopicKey, TopicRecord};
use tidewatch_text::rules::{parse_rule, Field, Node, RuleError, RuleInput, RuleSet, Span};

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
            if !SEVERITIES.contains(&s.as_str()) {
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

/// Checks one rule for topic `topic`: the parsed rule and its lint warnings, or its positioned
/// error. The one check behind the command line, the API and topics files.
pub fn check_rule(topic: &str, src: &str) -> Result<(Node, Vec<TopicDiagnostic>), TopicDiagnostic> {
    match parse_rule(src) {
        Ok(rule) => {
            let warnings = lint(&rule)
                .into_iter()
                .map(|(column, message, message_zh)| TopicDiagnostic {
                    topic: topic.to_string(),
                    error: false,
                    column: Some(column),
                    message,
                    message_zh,
                })
                .collect();
            Ok((rule, warnings))
        }
        Err(RuleError { column, message, message_zh }) => {
            Err(TopicDiagnostic { topic: topic.to_string(), error: true, column: Some(column), message, message_zh })
        }
    }
}

/// The severities a topic may have, lowest first.
pub const SEVERITIES: &[&str] = &["low", "medium", "high", "critical"];

impl Topic {
    /// The topic as the store keeps it.
    pub fn draft(&self) -> TopicDraft {
        let c = &self.config;
        TopicDraft {
            id: c.id.clone(),
            name: c.name.clone().unwrap_or_else(|| c.id.clone()),
            rule: c.rule.clone(),
            unit: c.unit.clone(),
            severity: c.severity.clone().unwrap_or_else(|| "medium".into()),
            enabled: c.enabled,
        }
    }
}

/// Saves topics to the store in one transaction (each versioned: see [`Db::save_topic`]).
/// Returns each topic's id, its version and whether it changed.
pub fn save_topics(
    db: &mut Db,
    topics: &[Topic],
    by: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(String, i64, bool)>, StoreError> {
    let drafts: Vec<TopicDraft> = topics.iter().map(Topic::draft).collect();
    Ok(db.save_topics(&drafts, by, now)?.into_iter().map(|(r, changed)| (r.def.id, r.version, changed)).collect())
}

/// The fields of a stored item that rules look at.
pub fn rule_input(item: &Item) -> RuleInput<'_> {
    RuleInput {
        title: &item.title,
        text: &item.text,
        url: item.canonical_url.as_deref().or(item.url.as_deref()),
        source: &item.source,
        lang: item.lang.as_str(),
    }
}

/// The enabled topics of the store, compiled for matching every ingested item.
pub struct ActiveTopics {
    set: RuleSet,
    /// Per rule: the topic's key, the version of its rule, its id and its alert severity.
    topics: Vec<(TopicKey, i64, String, String)>,
}

impl std::fmt::Debug for ActiveTopics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveTopics").field("topics", &self.topics.len()).finish()
    }
}

/// One topic an item matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicHit {
    /// Store key.
    pub key: TopicKey,
    /// Version of the rule that matched.
    pub version: i64,
    /// Topic id.
    pub id: String,
    /// The topic's alert severity (`low`, `medium`, `high`, `critical`).
    pub severity: String,
}

impl ActiveTopics {
    /// Compiles the enabled topics among `records`, each selected by its terms that are rarest
    /// in `recent` (the newest stored items; see [`RuleSet::tuned`]). A stored rule that no
    /// longer parses (it was saved by a Tidewatch with another rule language) is left out and
    /// reported.
    pub fn new(records: &[TopicRecord], recent: &[Item]) -> (ActiveTopics, Vec<TopicDiagnostic>) {
        let mut nodes = Vec::new();
        let mut topics = Vec::new();
        let mut diags = Vec::new();
        for r in records.iter().filter(|r| r.def.enabled) {
            match check_rule(&r.def.id, &r.def.rule) {
                Ok((node, _)) => {
                    nodes.push(node);
                    topics.push((r.key, r.version, r.def.id.clone(), r.def.severity.clone()));
                }
                Err(d) => diags.push(d),
            }
        }
        let sample: Vec<RuleInput<'_>> = recent.iter().map(rule_input).collect();
        (ActiveTopics { set: RuleSet::tuned(nodes, &sample), topics }, diags)
    }

    /// No topics.
    pub fn empty() -> ActiveTopics {
        ActiveTopics { set: RuleSet::new(Vec::new()), topics: Vec::new() }
    }

    /// How many stored items the rarity of the rules' terms was learned from; 0 when there were
    /// too few and it was estimated.
    pub fn learned_from(&self) -> usize {
        self.set.learned_from()
    }

    /// Number of enabled topics.
    pub fn len(&self) -> usize {
        self.topics.len()
    }

    /// True when no topic is enabled.
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// The topics `item` matches, in topic id order.
    pub fn hits(&self, item: &Item) -> Vec<TopicHit> {
        if self.topics.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<TopicHit> = self
            .set
            .matching(&rule_input(item))
            .into_iter()
            .map(|i| {
                let (key, version, id, severity) = &self.topics[i];
                TopicHit { key: *key, version: *version, id: id.clone(), severity: severity.clone() }
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }
}

/// What a draft rule would have matched among stored items.
#[derive(Debug, Clone)]
pub struct Backtest {
    /// Hits per day (local midnight in the zone asked for), oldest first, empty days included.
    pub days: Vec<(DateTime<Utc>, u64)>,
    /// Items looked at.
    pub scanned: u64,
    /// Items matched.
    pub hits: u64,
    /// Up to the number of samples asked for, spread over the period (newest first), with spans.
    pub samples: Vec<(StoredItem, Vec<Span>)>,
}

/// Midnight, in `zone`, `days - 1` days before `now`'s day: the start of a `days`-day period
/// that ends with today.
pub fn period_start(now: DateTime<Utc>, days: u32, zone: Tz) -> DateTime<Utc> {
    let local = now.with_timezone(&zone).date_naive() - chrono::Days::new(days.saturating_sub(1) as u64);
    let midnight = local.and_hms_opt(0, 0, 0).expect("midnight exists");
    zone.from_local_datetime(&midnight).earliest().map(|t| t.with_timezone(&Utc)).unwrap_or(now)
}

/// Runs `rule` over the items published in the `days` whole days that end with the day of `now`
/// (days start at midnight in `zone`), without saving anything.
pub fn backtest(
    db: &Db,
    rule: &Node,
    days: u32,
    now: DateTime<Utc>,
    zone: Tz,
    samples: usize,
) -> Result<Backtest, StoreError> {
    let days = days.clamp(1, 366);
    let since = period_start(now, days, zone);
    let set = RuleSet::new(vec![rule.clone()]);
    let mut counts = vec![0u64; days as usize];
    let (mut scanned, mut hits) = (0u64, 0u64);
    let mut matched: Vec<ItemId> = Vec::new();
    db.for_each_item_published(since, since + chrono::Duration::days(days as i64), |s| {
        scanned += 1;
        if !set.matching(&rule_input(&s.item)).is_empty() {
            hits += 1;
            let day = (s.item.published_at - since).num_days().clamp(0, days as i64 - 1) as usize;
            counts[day] += 1;
            matched.push(s.id);
        }
        true
    })?;
    // Samples spread evenly over the hits, newest first.
    let n = samples.min(matched.len());
    let picked: Vec<ItemId> = (0..n).map(|i| matched[matched.len() - 1 - i * matched.len() / n.max(1)]).collect();
    let samples = db
        .items_by_ids(&picked)?
        .into_iter()
        .map(|s| {
            let spans = set.matches(&rule_input(&s.item)).into_iter().next().map(|m| m.spans).unwrap_or_default();
            (s, spans)
        })
        .collect();
    let days = counts.into_iter().enumerate().map(|(i, c)| (since + chrono::Duration::days(i as i64), c)).collect();
    Ok(Backtest { days, scanned, hits, samples })
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
