//! The analysis stage of the pipeline: every stored item gets its sentiment and story; stories,
//! burst series and signals are kept in the store, in the item's write transaction.
//!
//! Sentiment and story terms are computed in the parallel prepare stage ([`ItemAnalysis`]);
//! placing the item in a story, counting it in its series and raising signals happens in the
//! single-threaded write stage ([`Analysis::add`]), so that the store's stories and signals
//! change with the items that caused them, in one commit.
//!
//! Series (per topic, per story) are counted in hourly buckets of publication time. A bucket is
//! closed, and tested against the series' seasonal baseline, when an item of a later bucket
//! arrives; the open bucket is also tested as it fills (a count that is already a burst need not
//! wait for the hour to end). Items older than a series' open bucket are stored and counted in
//! the story's volume, but do not change the series.
//!
//! Signals raised here (DESIGN.md §2): `topic_hit` (an item matched a high or critical topic),
//! `burst` (a topic's or story's volume), `story_rising` (a new story that gathered many items
//! from several sources within hours), `sentiment_shift` (a topic's items of the last day turned
//! negative against its previous week).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tidewatch_detect::bursts::{bucket_start, Burst, BurstConfig, Sensitivity, Series, SpecialPeriod};
use tidewatch_detect::sentiment::{Polarity, Sentiment};
use tidewatch_detect::stories::{Placement, Stories, Story, StoryConfig, StoryId, StoryInput};
use tidewatch_model::ItemId;
use tidewatch_store::{Db, Signal, StoreError, WriteTx};
use tidewatch_text::snippet::truncate_chars;
use tidewatch_text::Prepared;

use crate::topics::TopicHit;

/// What the parallel stage computes for the analysis.
#[derive(Debug, Clone)]
pub struct ItemAnalysis {
    /// Polarity and score.
    pub sentiment: Sentiment,
    /// Distinctive terms for story grouping.
    pub terms: Vec<(String, f32)>,
}

/// Settings of the analysis stage.
#[derive(Debug, Clone)]
pub struct AnalysisConfig {
    /// Story grouping.
    pub stories: StoryConfig,
    /// Bursts of topics. Warm-up is three days: a new topic should not wait a week for its
    /// first burst; until its hour-of-day means have three days, it is judged against its level.
    pub topic_bursts: BurstConfig,
    /// Bursts of stories (short-lived: they are judged against their own level after a few
    /// hours).
    pub story_bursts: BurstConfig,
    /// A story is rising fast when it has this many items…
    pub rising_items: u64,
    /// …from at least this many sources…
    pub rising_sources: usize,
    /// …within this long of its first item.
    pub rising_within: Duration,
    /// A topic's sentiment has shifted when at least this many of its items arrived in the last
    /// day and their negative share exceeds the previous week's by [`AnalysisConfig::shift_points`].
    pub shift_min_items: u64,
    /// See [`AnalysisConfig::shift_min_items`].
    pub shift_points: f64,
    /// Stories inactive this long are dropped from memory (they stay in the store).
    pub keep_stories: Duration,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            stories: StoryConfig::default(),
            topic_bursts: BurstConfig { warmup: 72, ..BurstConfig::default() },
            story_bursts: BurstConfig { warmup: 4, ..BurstConfig::default() },
            rising_items: 10,
            rising_sources: 3,
            rising_within: Duration::hours(3),
            shift_min_items: 20,
            shift_points: 0.2,
            keep_stories: Duration::days(10),
        }
    }
}

/// `analysis.toml` in the data directory: the burst sensitivity and the special periods.
///
/// ```toml
/// sensitivity = "balanced"          # low, balanced or high
/// [[special_period]]
/// name = "校庆"
/// from = 2026-10-20                 # first day, inclusive, Asia/Shanghai
/// to = 2026-10-22                   # last day, inclusive
/// sensitivity = "high"
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalysisFile {
    #[serde(default)]
    sensitivity: Option<String>,
    #[serde(default)]
    special_period: Vec<PeriodFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodFile {
    name: String,
    from: toml::value::Datetime,
    to: toml::value::Datetime,
    sensitivity: String,
}

impl AnalysisConfig {
    /// The defaults with the settings of an `analysis.toml` applied. Errors name the setting.
    pub fn from_toml(text: &str) -> Result<AnalysisConfig, String> {
        let file: AnalysisFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut config = AnalysisConfig::default();
        let level = |s: &str, what: &str| {
            Sensitivity::parse(s).ok_or_else(|| format!("{what}: {s:?} is not a sensitivity (low, balanced, high)"))
        };
        if let Some(s) = &file.sensitivity {
            let l = level(s, "sensitivity")?;
            config.topic_bursts.sensitivity = l;
            config.story_bursts.sensitivity = l;
        }
        for (i, p) in file.special_period.iter().enumerate() {
            let what = format!("special_period {} ({})", i + 1, p.name);
            let day = |d: &toml::value::Datetime, field: &str| match (d.date, d.time) {
                (Some(date), None) => NaiveDate::from_ymd_opt(date.year as i32, date.month as u32, date.day as u32)
                    .ok_or_else(|| format!("{what}: {field} is not a date")),
                _ => Err(format!("{what}: {field} must be a date like 2026-10-20")),
            };
            let (from, to) = (day(&p.from, "from")?, day(&p.to, "to")?);
            if to < from {
                return Err(format!("{what}: ends before it starts"));
            }
            let period = SpecialPeriod { name: p.name.clone(), from, to, sensitivity: level(&p.sensitivity, &what)? };
            config.topic_bursts.special.push(period.clone());
            config.story_bursts.special.push(period);
        }
        Ok(config)
    }
}

/// An item seen in a series' current window (for the burst's explanation).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Recent {
    id: i64,
    at: DateTime<Utc>,
    source: String,
    title: String,
    terms: Vec<String>,
}

/// A series and its open bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Slot {
    series: Series,
    /// Start of the open bucket (None before the first item).
    bucket: Option<DateTime<Utc>>,
    count: f64,
    /// Items of the open and the previous bucket (not kept across restarts: writing them with
    /// every batch cost more than their use, samples in an explanation).
    #[serde(skip)]
    recent: Vec<Arc<Recent>>,
}

const MAX_RECENT: usize = 300;
/// A story gets a burst series from its third item.
const MIN_STORY_SERIES_ITEMS: u64 = 3;
/// After a gap longer than this, a series skips the empty buckets instead of testing each.
const MAX_GAP_BUCKETS: i64 = 24 * 14;

/// Per topic, items and negative items per day (UTC day number).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Mood {
    days: Vec<(i64, u64, u64)>,
    /// Last day a shift was signalled.
    signalled: Option<i64>,
}

/// The analysis state: story clustering, burst series, what has been signalled.
pub struct Analysis {
    config: AnalysisConfig,
    stories: Stories,
    slots: HashMap<String, Slot>,
    changed_slots: HashSet<String>,
    rising_signalled: HashSet<StoryId>,
    moods: HashMap<String, Mood>,
    /// Earliest publication time the analysis has seen (a topic's series counts from there: the
    /// hours before its first hit are hours with no hits).
    stream_start: Option<DateTime<Utc>>,
    /// Latest publication time seen, and items since the last eviction.
    latest: Option<DateTime<Utc>>,
    since_evict: u64,
    /// When burst-series state was last written (None: not since open).
    series_saved: Option<std::time::Instant>,
}

/// Burst-series state is written at most this often (and on [`Analysis::save_all`]): writing
/// every changed series with every batch cost 15–25% of the import throughput with 10,000 topics.
/// A crash loses at most this much of the series' counts; items, stories and signals are written
/// with every batch.
const SERIES_SAVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis").field("stories", &self.stories.len()).field("series", &self.slots.len()).finish()
    }
}

impl Analysis {
    /// Restores the state from the store: recent stories, their near-duplicate groups and
    /// merges, every burst series.
    pub fn open(db: &Db, config: AnalysisConfig, now: DateTime<Utc>) -> Result<Analysis, StoreError> {
        let mut stories = Stories::new(config.stories, db.max_story_id()? as StoryId + 1);
        let since = db.stories_since(DateTime::<Utc>::MIN_UTC, 1)?.first().map(|s| s.last_seen).unwrap_or(now)
            - config.keep_stories;
        for row in db.stories_since(since, usize::MAX >> 1)? {
            if let Ok(story) = serde_json::from_str::<Story>(&row.state) {
                stories.restore(story);
            }
        }
        for l in db.story_lineage()? {
            if l.kind == "merge" {
                stories.restore_redirect(l.absorbed as StoryId, l.survivor as StoryId);
            }
        }
        for (group, story) in db.group_stories_since(since)? {
            stories.restore_dup(group as u64, story as StoryId);
        }
        let mut slots = HashMap::new();
        let mut moods = HashMap::new();
        let mut rising_signalled = HashSet::new();
        let mut stream_start = None;
        for (key, state) in db.burst_series()? {
            if let Some(topic) = key.strip_prefix("mood:") {
                if let Ok(m) = serde_json::from_str::<Mood>(&state) {
                    moods.insert(topic.to_string(), m);
                }
            } else if key == "rising" {
                if let Ok(ids) = serde_json::from_str::<Vec<StoryId>>(&state) {
                    rising_signalled.extend(ids);
                }
            } else if key == "stream_start" {
                stream_start = serde_json::from_str(&state).ok();
            } else if let Ok(slot) = serde_json::from_str::<Slot>(&state) {
                slots.insert(key, slot);
            }
        }
        Ok(Analysis {
            config,
            stories,
            slots,
            changed_slots: HashSet::new(),
            rising_signalled,
            moods,
            stream_start,
            latest: None,
            since_evict: 0,
            series_saved: None,
        })
    }

    /// The story clustering.
    pub fn stories(&self) -> &Stories {
        &self.stories
    }

    /// Places a newly stored item, records its analysis and raises signals, in `tx`.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        tx: &mut WriteTx<'_>,
        id: ItemId,
        group: i64,
        is_copy: bool,
        p: &Prepared,
        a: &ItemAnalysis,
        topics: &[TopicHit],
    ) -> Result<Placement, StoreError> {
        let item = &p.item;
        self.latest = self.latest.max(Some(item.published_at));
        if self.stream_start.is_none_or(|s| item.published_at < s) {
            self.stream_start = Some(item.published_at);
            self.changed_slots.insert("stream_start".into());
        }
        self.since_evict += 1;
        let headline = crate::analyze::headline(p);
        let placement = self.stories.place(&StoryInput {
            published_at: item.published_at,
            dup_group: Some(group as u64),
            is_copy,
            terms: &a.terms,
            source: &item.source,
            sentiment: a.sentiment.label,
            headline,
        });
        let story = placement.story;
        tx.insert_analysis(id, a.sentiment.label.as_str(), a.sentiment.score, story as i64)?;
        for &(absorbed, survivor) in &placement.merged {
            tx.merge_story(absorbed as i64, survivor as i64, item.published_at)?;
            if let Some(gone) = self.slots.remove(&format!("story:{absorbed}")) {
                self.changed_slots.insert(format!("story:{absorbed}"));
                let _ = gone;
            }
        }
        tx.add_story_volume(story as i64, bucket_start(&self.config.story_bursts, item.published_at), 1)?;
        let recent = Arc::new(Recent {
            id: id.0,
            at: item.published_at,
            source: item.source.clone(),
            title: truncate_chars(headline, 80),
            terms: a.terms.iter().take(4).map(|(t, _)| t.clone()).collect(),
        });
        // Series: each topic's, and the story's once it has a few items (most stories stay one
        // or two items; a series each would cost a write per item for nothing).
        let story_items = self.stories.get(story).map_or(0, |s| s.items);
        let mut keys = Vec::new();
        if story_items >= MIN_STORY_SERIES_ITEMS {
            keys.push((format!("story:{story}"), None));
        }
        keys.extend(topics.iter().map(|t| (format!("topic:{}", t.id), Some(t))));
        for (key, topic) in keys {
            let config = if topic.is_some() { &self.config.topic_bursts } else { &self.config.story_bursts };
            let stream_start = self.stream_start;
            if !self.slots.contains_key(&key) {
                self.slots.insert(
                    key.clone(),
                    Slot {
                        series: Series::default(),
                        // A topic's first hit is not the start of its history: it had none before.
                        bucket: match (topic, stream_start) {
                            (Some(_), Some(s)) => {
                                Some(bucket_start(config, s.max(item.published_at - Duration::days(14))))
                            }
                            _ => None,
                        },
                        count: 0.0,
                        recent: Vec::new(),
                    },
                );
            }
            if !self.changed_slots.contains(&key) {
                self.changed_slots.insert(key.clone());
            }
            let slot = self.slots.get_mut(&key).expect("inserted above");
            for burst in slot.add(config, &recent) {
                let (severity, topic_id) = match topic {
                    Some(t) => (raise(&t.severity, burst.score), Some(t.id.clone())),
                    None => (raise("medium", burst.score), None),
                };
                let what = match &topic_id {
                    Some(t) => format!("topic {t}"),
                    None => format!("story {story}"),
                };
                let title = format!(
                    "Burst on {what}: {} items against {:.1} expected ({} → {})",
                    burst.observed,
                    burst.expected,
                    burst.window_start.format("%m-%d %H:%M"),
                    burst.window_end.format("%H:%M")
                );
                let explanation = explain(&burst, &slot.recent, story, self.stories.get(story));
                add_signal(
                    tx,
                    &Signal {
                        id: 0,
                        kind: "burst".into(),
                        severity,
                        created_at: item.published_at,
                        source: None,
                        topic: topic_id,
                        story: Some(story.to_string()),
                        title,
                        explanation,
                    },
                )?;
            }
        }
        // High-severity topic hits.
        for t in topics.iter().filter(|t| matches!(t.severity.as_str(), "high" | "critical")) {
            add_signal(tx, &Signal {
                id: 0,
                kind: "topic_hit".into(),
                severity: t.severity.clone(),
                created_at: item.published_at,
                source: Some(item.source.clone()),
                topic: Some(t.id.clone()),
                story: Some(story.to_string()),
                title: format!("{} matched topic {}: {}", item.source, t.id, truncate_chars(headline, 60)),
                explanation: serde_json::json!({"item": id.0, "title": truncate_chars(headline, 200), "sentiment": a.sentiment.label, "score": a.sentiment.score}).to_string(),
            })?;
        }
        // A new story rising fast.
        if let Some(s) = self.stories.get(story) {
            let young = s.last_seen - s.first_seen <= self.config.rising_within;
            if young
                && s.items >= self.config.rising_items
                && s.sources.len() >= self.config.rising_sources
                && self.rising_signalled.insert(s.id)
            {
                self.changed_slots.insert("rising".into());
                add_signal(tx, &Signal {
                    id: 0,
                    kind: "story_rising".into(),
                    severity: "medium".into(),
                    created_at: item.published_at,
                    source: None,
                    topic: topics.first().map(|t| t.id.clone()),
                    story: Some(s.id.to_string()),
                    title: format!(
                        "New story rising: {} items from {} sources in {} min: {}",
                        s.items,
                        s.sources.len(),
                        (s.last_seen - s.first_seen).num_minutes(),
                        truncate_chars(&s.title, 60)
                    ),
                    explanation: serde_json::json!({
                        "items": s.items, "sources": s.sources, "first_seen": s.first_seen, "first_source": s.first_source,
                        "minutes": (s.last_seen - s.first_seen).num_minutes(), "keywords": self.stories.keywords(s.id),
                    })
                    .to_string(),
                })?;
            }
        }
        // Sentiment shifts per topic.
        let day = item.published_at.timestamp().div_euclid(86_400);
        let mut mood_key = String::new();
        for t in topics {
            if !self.moods.contains_key(&t.id) {
                self.moods.insert(t.id.clone(), Default::default());
            }
            let mood = self.moods.get_mut(&t.id).expect("inserted above");
            match mood.days.iter_mut().find(|d| d.0 == day) {
                Some(d) => {
                    d.1 += 1;
                    d.2 += (a.sentiment.label == Polarity::Negative) as u64;
                }
                None => {
                    mood.days.push((day, 1, (a.sentiment.label == Polarity::Negative) as u64));
                    mood.days.sort_by_key(|d| d.0);
                    let keep = mood.days.len().saturating_sub(8);
                    mood.days.drain(..keep);
                }
            }
            mood_key.clear();
            mood_key.push_str("mood:");
            mood_key.push_str(&t.id);
            if !self.changed_slots.contains(&mood_key) {
                self.changed_slots.insert(mood_key.clone());
            }
            if let Some(shift) = mood.shift(day, &self.config) {
                mood.signalled = Some(day);
                add_signal(
                    tx,
                    &Signal {
                        id: 0,
                        kind: "sentiment_shift".into(),
                        severity: if shift.now - shift.before > 0.4 { "high".into() } else { "medium".into() },
                        created_at: item.published_at,
                        source: None,
                        topic: Some(t.id.clone()),
                        story: None,
                        title: format!(
                            "Topic {} turned negative: {:.0}% of today's {} items, {:.0}% over the previous week",
                            t.id,
                            shift.now * 100.0,
                            shift.items,
                            shift.before * 100.0
                        ),
                        explanation: serde_json::to_string(&shift).unwrap_or_default(),
                    },
                )?;
            }
        }
        Ok(placement)
    }

    /// Writes the stories changed since the last call, and the changed series when they were
    /// last written [`SERIES_SAVE_INTERVAL`] ago (end of a batch, in its transaction).
    pub fn save(&mut self, tx: &mut WriteTx<'_>) -> Result<(), StoreError> {
        self.save_some(tx, false)
    }

    /// Writes everything changed (a clean shutdown).
    pub fn save_all(&mut self, tx: &mut WriteTx<'_>) -> Result<(), StoreError> {
        self.save_some(tx, true)
    }

    /// Whether changed series wait to be written.
    pub fn has_unsaved_series(&self) -> bool {
        !self.changed_slots.is_empty()
    }

    /// Whether changed series wait and the interval has passed.
    pub fn series_save_due(&self) -> bool {
        self.has_unsaved_series() && self.series_saved.is_none_or(|t| t.elapsed() >= SERIES_SAVE_INTERVAL)
    }

    fn save_some(&mut self, tx: &mut WriteTx<'_>, all: bool) -> Result<(), StoreError> {
        if self.since_evict >= 10_000 {
            // Stream time, not the clock: replays and imports of old items age stories too.
            if let Some(latest) = self.latest {
                self.evict(latest);
            }
            self.since_evict = 0;
        }
        for s in self.stories.take_changed() {
            let state = serde_json::to_string(s).unwrap_or_default();
            tx.upsert_story(s.id as i64, &s.title, s.first_seen, s.last_seen, s.items as i64, &state)?;
        }
        if !all && self.series_saved.is_some_and(|t| t.elapsed() < SERIES_SAVE_INTERVAL) {
            return Ok(());
        }
        self.series_saved = Some(std::time::Instant::now());
        for key in self.changed_slots.drain() {
            let state = if let Some(topic) = key.strip_prefix("mood:") {
                self.moods.get(topic).map(|m| serde_json::to_string(m).unwrap_or_default())
            } else if key == "rising" {
                Some(serde_json::to_string(&self.rising_signalled).unwrap_or_default())
            } else if key == "stream_start" {
                Some(serde_json::to_string(&self.stream_start).unwrap_or_default())
            } else {
                self.slots.get(&key).map(|s| serde_json::to_string(s).unwrap_or_default())
            };
            match state {
                Some(state) => tx.save_series(&key, &state)?,
                None => tx.drop_series(&key)?,
            }
        }
        Ok(())
    }

    /// Forgets stories (and their series) inactive for longer than the configured time before
    /// `now`; they stay in the store.
    pub fn evict(&mut self, now: DateTime<Utc>) {
        self.stories.evict(now, self.config.keep_stories);
        let live: HashSet<String> = self.slots.keys().filter(|k| k.starts_with("story:")).cloned().collect();
        for key in live {
            let id: StoryId = key["story:".len()..].parse().unwrap_or(0);
            if self.stories.get(id).is_none() {
                self.slots.remove(&key);
                self.changed_slots.insert(key);
            }
        }
    }
}

/// Stores a signal and counts it.
fn add_signal(tx: &mut WriteTx<'_>, signal: &Signal) -> Result<(), StoreError> {
    tx.add_signal(signal)?;
    crate::metrics::METRICS.signals_raised.add(1);
    Ok(())
}

/// Why a sentiment shift was signalled.
#[derive(Debug, Serialize)]
struct Shift {
    /// Negative share today.
    now: f64,
    /// Negative share over the previous days kept (up to seven).
    before: f64,
    items: u64,
    negative: u64,
    previous_items: u64,
}

impl Mood {
    fn shift(&self, day: i64, config: &AnalysisConfig) -> Option<Shift> {
        if self.signalled == Some(day) {
            return None;
        }
        let today = self.days.iter().find(|d| d.0 == day)?;
        let (items, negative) = (today.1, today.2);
        let (pi, pn) =
            self.days.iter().filter(|d| d.0 < day && d.0 >= day - 7).fold((0, 0), |a, d| (a.0 + d.1, a.1 + d.2));
        if items < config.shift_min_items || pi < config.shift_min_items {
            return None;
        }
        let now = negative as f64 / items as f64;
        let before = pn as f64 / pi as f64;
        // The rise must be large and unlikely under the previous share (one-sided z-test).
        let sd = (before * (1.0 - before) / items as f64).sqrt().max(1e-9);
        ((now - before) >= config.shift_points && (now - before) / sd >= 3.0).then_some(Shift {
            now: (now * 1000.0).round() / 1000.0,
            before: (before * 1000.0).round() / 1000.0,
            items,
            negative,
            previous_items: pi,
        })
    }
}

impl Slot {
    /// Counts an item; returns the bursts that start (at most one per bucket tested).
    fn add(&mut self, config: &BurstConfig, item: &Arc<Recent>) -> Vec<Burst> {
        let b = bucket_start(config, item.at);
        let mut fired = Vec::new();
        match self.bucket {
            None => self.bucket = Some(b),
            Some(open) if b < open => {
                // Late: counted in the store's volume, not in the series.
                return fired;
            }
            Some(open) if b > open => {
                // Close the open bucket and the empty ones up to the item's.
                let gaps = (b - open).num_seconds() / config.bucket.num_seconds().max(1);
                let mut at = open;
                let mut count = self.count;
                let steps = gaps.min(MAX_GAP_BUCKETS);
                for _ in 0..steps {
                    if let Some(burst) = self.series.observe(config, at, count) {
                        fired.push(burst);
                    }
                    at += config.bucket;
                    count = 0.0;
                }
                self.bucket = Some(b);
                self.count = 0.0;
                let keep_from = b - config.bucket;
                self.recent.retain(|r| r.at >= keep_from);
            }
            Some(_) => {}
        }
        self.count += 1.0;
        if self.recent.len() < MAX_RECENT {
            self.recent.push(item.clone());
        }
        if let Some(burst) = self.series.check_open(config, b, self.count) {
            fired.push(burst);
        }
        fired
    }
}

/// Raises a severity by one step for a very strong burst.
fn raise(severity: &str, score: f64) -> String {
    let order = ["low", "medium", "high", "critical"];
    let at = order.iter().position(|s| *s == severity).unwrap_or(1);
    let at = if score >= 12.0 { (at + 1).min(3) } else { at };
    order[at].to_string()
}

/// The explanation of a burst: the test's figures and what the window's items were.
fn explain(burst: &Burst, recent: &[Arc<Recent>], story: StoryId, s: Option<&Story>) -> String {
    let window: Vec<&Recent> =
        recent.iter().map(|r| &**r).filter(|r| r.at >= burst.window_start && r.at < burst.window_end).collect();
    let top = |items: Vec<&str>| {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for i in items {
            *counts.entry(i).or_default() += 1;
        }
        let mut v: Vec<(&str, usize)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(5);
        v.into_iter().map(|(k, n)| serde_json::json!([k, n])).collect::<Vec<_>>()
    };
    let sources = top(window.iter().map(|r| r.source.as_str()).collect());
    let terms = top(window.iter().flat_map(|r| r.terms.iter().map(String::as_str)).collect());
    let samples: Vec<_> = window
        .iter()
        .take(5)
        .map(|r| serde_json::json!({"item": r.id, "title": r.title, "source": r.source}))
        .collect();
    serde_json::json!({
        "observed": burst.observed,
        "expected": burst.expected,
        "score": burst.score,
        "test": "Poisson upper tail; score = -log10(p)",
        "window_start": burst.window_start,
        "window_end": burst.window_end,
        "sensitivity": burst.sensitivity,
        "special_period": burst.period,
        "top_sources": sources,
        "top_terms": terms,
        "samples": samples,
        "story": story,
        "story_title": s.map(|s| s.title.clone()),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_toml_sets_sensitivity_and_special_periods() {
        let c = AnalysisConfig::from_toml(
            "sensitivity = \"low\"\n[[special_period]]\nname = \"校庆\"\nfrom = 2026-10-20\nto = 2026-10-22\nsensitivity = \"high\"\n",
        )
        .unwrap();
        assert_eq!(c.topic_bursts.sensitivity, Sensitivity::Low);
        assert_eq!(c.story_bursts.special.len(), 1);
        assert_eq!(c.topic_bursts.special[0].from, NaiveDate::from_ymd_opt(2026, 10, 20).unwrap());
        for (bad, says) in [
            ("sensitivity = \"extreme\"", "not a sensitivity"),
            (
                "[[special_period]]\nname = \"x\"\nfrom = 2026-10-22\nto = 2026-10-20\nsensitivity = \"high\"",
                "ends before it starts",
            ),
            (
                "[[special_period]]\nname = \"x\"\nfrom = 2026-10-22T08:00:00\nto = 2026-10-23\nsensitivity = \"high\"",
                "must be a date",
            ),
            ("colour = \"red\"", "unknown field"),
            ("sensitivity = ", "expected"),
        ] {
            let e = AnalysisConfig::from_toml(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
