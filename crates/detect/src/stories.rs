//! Stories: items grouped online into real-world events, with identities that never change.
//!
//! An item joins the most similar story, or starts a new one:
//! 1. a near-duplicate of an item already in a story joins that story;
//! 2. otherwise its distinctive terms (TF-IDF, the dictionary's word frequencies as document
//!    frequencies) are compared by cosine with the centroids of the stories that share a term
//!    with it, discounted by the time since the story was last active; the best story at or above
//!    [`StoryConfig::join`] wins;
//! 3. when the item also reaches [`StoryConfig::merge`] with a second story whose centroid is
//!    close to the winner's, the two are merged: the younger id redirects to the older one and
//!    the merge is kept as lineage.
//!
//! A story without items for [`StoryConfig::dormant_after`] is dormant: it is not offered to new
//! items unless their similarity reaches [`StoryConfig::wake`], which wakes it. Ids are
//! assigned in order and never reused; a merged id resolves to its survivor.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tidewatch_text::normalize::is_han;
use tidewatch_text::Segmenter;

use crate::sentiment::Polarity;

/// A story's id.
pub type StoryId = u64;

/// Clustering settings.
#[derive(Debug, Clone, Copy)]
pub struct StoryConfig {
    /// Similarity an item needs to join an active story.
    pub join: f32,
    /// Similarity an item needs to wake a dormant story.
    pub wake: f32,
    /// Similarity of two stories' centroids (and of the item to both) that merges them.
    pub merge: f32,
    /// A story with no items for this long is dormant.
    pub dormant_after: Duration,
    /// Similarity is halved when the story was last active this long before the item.
    pub half_life: Duration,
    /// Terms kept per item.
    pub item_terms: usize,
    /// Terms kept per story centroid.
    pub centroid_terms: usize,
}

impl Default for StoryConfig {
    fn default() -> Self {
        StoryConfig {
            join: 0.22,
            wake: 0.35,
            merge: 0.5,
            dormant_after: Duration::hours(72),
            half_life: Duration::hours(48),
            item_terms: 24,
            centroid_terms: 64,
        }
    }
}

/// What the clustering needs to know about one item.
#[derive(Debug, Clone)]
pub struct StoryInput<'a> {
    pub published_at: DateTime<Utc>,
    /// Near-duplicate group (the pipeline's dedup group).
    pub dup_group: Option<u64>,
    /// Whether the item is a copy of an earlier one (counts as a repost).
    pub is_copy: bool,
    /// Weighted distinctive terms ([`terms`]).
    pub terms: &'a [(String, f32)],
    pub source: &'a str,
    pub sentiment: Polarity,
    /// Title or opening of the item, the story's title when the item is representative.
    pub headline: &'a str,
}

/// A story's state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Story {
    pub id: StoryId,
    pub title: String,
    pub first_seen: DateTime<Utc>,
    pub first_source: String,
    pub last_seen: DateTime<Utc>,
    pub items: u64,
    pub reposts: u64,
    pub sources: Vec<String>,
    /// Items per polarity: negative, neutral, positive.
    pub sentiment: [u64; 3],
    /// Centroid: term and summed weight, heaviest first (as of the last
    /// [`Stories::take_changed`]).
    pub centroid: Vec<(String, f32)>,
    /// The title item's terms, to compare later items with it against the current centroid.
    #[serde(default)]
    title_terms: Vec<(String, f32)>,
    /// The centroid by term id, sorted by id, and its norm.
    #[serde(skip)]
    vec: Vec<(u32, f32)>,
    #[serde(skip)]
    norm: f32,
    /// The title item's terms by id, sorted by id, and their norm.
    #[serde(skip)]
    title_vec: Vec<(u32, f32)>,
    #[serde(skip)]
    title_norm: f32,
    /// The term ids the story is indexed under.
    #[serde(skip)]
    indexed: Vec<u32>,
}

impl Story {
    /// The heaviest terms.
    pub fn keywords(&self, n: usize) -> Vec<&str> {
        self.centroid.iter().take(n).map(|(t, _)| t.as_str()).collect()
    }
}

/// Where an item went.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub story: StoryId,
    /// True when the item started the story.
    pub new: bool,
    /// True when the item woke a dormant story.
    pub woke: bool,
    /// Stories absorbed into `story` by this item: (absorbed, survivor).
    pub merged: Vec<(StoryId, StoryId)>,
    /// Similarity that placed it (1 for a near-duplicate, 0 for a new story).
    pub similarity: f32,
}

/// A story is found through this many of its heaviest terms.
const INDEX_TERMS: usize = 16;
/// An item looks for stories through this many of its heaviest terms.
const QUERY_TERMS: usize = 10;

/// The online clustering.
#[derive(Debug, Default)]
pub struct Stories {
    config: StoryConfig,
    stories: HashMap<StoryId, Story>,
    /// Term id → stories indexed under it.
    index: HashMap<u32, Vec<StoryId>>,
    /// Term strings and their ids.
    vocab: HashMap<String, u32>,
    names: Vec<String>,
    dup_story: HashMap<u64, StoryId>,
    redirects: HashMap<StoryId, StoryId>,
    next_id: StoryId,
    /// Stories changed since the last [`Stories::take_changed`].
    changed: HashSet<StoryId>,
    /// Document frequency of terms in the stream (by id), and documents counted: a term in many
    /// items (the organization's own name, a campus) says little about which event an item is
    /// about, however rare it is in the dictionary.
    df: HashMap<u32, u32>,
    docs: u32,
    /// Placements since the last merge pass, and the stories they changed.
    since_pass: u32,
    pass_dirty: HashSet<StoryId>,
}

/// A merge pass compares a changed story with at most this many others.
const PASS_CANDIDATES: usize = 50;

/// Active stories are compared with each other every this many placements.
const MERGE_PASS_EVERY: u32 = 100;

/// Documents counted before the stream's frequencies temper term weights.
const DF_MIN_DOCS: u32 = 200;
/// Frequencies are halved when this many documents have been counted (recent ones weigh more).
const DF_HALVE_AT: u32 = 200_000;

impl Stories {
    /// Empty state; ids start at `next_id` (1 for a fresh store).
    pub fn new(config: StoryConfig, next_id: StoryId) -> Stories {
        Stories { config, next_id: next_id.max(1), ..Stories::default() }
    }

    fn intern(&mut self, term: &str) -> u32 {
        if let Some(&id) = self.vocab.get(term) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(term.to_string());
        self.vocab.insert(term.to_string(), id);
        id
    }

    fn intern_terms(&mut self, terms: &[(String, f32)]) -> Vec<(u32, f32)> {
        let mut v: Vec<(u32, f32)> = terms.iter().map(|(t, w)| (self.intern(t), *w)).collect();
        v.sort_unstable_by_key(|x| x.0);
        v.dedup_by_key(|x| x.0);
        v
    }

    /// Restores a story kept in the store (its near-duplicate groups and redirects come with
    /// [`Stories::restore_dup`] and [`Stories::restore_redirect`]).
    pub fn restore(&mut self, mut story: Story) {
        self.next_id = self.next_id.max(story.id + 1);
        story.vec = self.intern_terms(&story.centroid);
        story.norm = norm(&story.vec);
        story.title_vec = self.intern_terms(&story.title_terms);
        story.title_norm = norm(&story.title_vec);
        let id = story.id;
        self.stories.insert(id, story);
        self.reindex(id);
    }

    /// Restores that a near-duplicate group belongs to a story.
    pub fn restore_dup(&mut self, group: u64, story: StoryId) {
        self.dup_story.insert(group, story);
    }

    /// Restores a merge.
    pub fn restore_redirect(&mut self, absorbed: StoryId, survivor: StoryId) {
        self.redirects.insert(absorbed, survivor);
        self.next_id = self.next_id.max(absorbed + 1);
    }

    /// The story an id now stands for (itself, or the survivor it was merged into).
    pub fn resolve(&self, mut id: StoryId) -> StoryId {
        let mut hops = 0;
        while let Some(&next) = self.redirects.get(&id) {
            id = next;
            hops += 1;
            if hops > 10_000 {
                break;
            }
        }
        id
    }

    /// A story by id (resolving merges). Its `centroid` is as of the last
    /// [`Stories::take_changed`]; [`Stories::keywords`] is current.
    pub fn get(&self, id: StoryId) -> Option<&Story> {
        self.stories.get(&self.resolve(id))
    }

    /// A story's heaviest terms now.
    pub fn keywords(&self, id: StoryId) -> Vec<&str> {
        let Some(s) = self.get(id) else { return Vec::new() };
        let mut v: Vec<&(u32, f32)> = s.vec.iter().collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.iter().take(8).map(|(t, _)| self.names[*t as usize].as_str()).collect()
    }

    /// Number of live (not absorbed) stories held.
    pub fn len(&self) -> usize {
        self.stories.len()
    }

    /// True when no story is held.
    pub fn is_empty(&self) -> bool {
        self.stories.is_empty()
    }

    /// The stories changed since the last call, with their centroids brought up to date.
    pub fn take_changed(&mut self) -> Vec<&Story> {
        let ids: Vec<StoryId> = self.changed.drain().collect();
        for id in &ids {
            if let Some(s) = self.stories.get_mut(id) {
                let mut c: Vec<(String, f32)> =
                    s.vec.iter().map(|(t, w)| (self.names[*t as usize].clone(), *w)).collect();
                c.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                s.centroid = c;
            }
        }
        ids.iter().filter_map(|id| self.stories.get(id)).collect()
    }

    /// Forgets stories dormant for longer than `keep` before `now` (they stay in the store and
    /// keep their ids; an item about them later starts a new story).
    pub fn evict(&mut self, now: DateTime<Utc>, keep: Duration) {
        let old: Vec<StoryId> = self.stories.values().filter(|s| now - s.last_seen > keep).map(|s| s.id).collect();
        for id in old {
            self.remove(id);
        }
        let live: HashSet<StoryId> = self.stories.keys().copied().collect();
        let resolved: HashMap<StoryId, StoryId> = self.dup_story.values().map(|s| (*s, self.resolve(*s))).collect();
        self.dup_story.retain(|_, s| live.contains(&resolved[s]));
    }

    fn remove(&mut self, id: StoryId) -> Option<Story> {
        let story = self.stories.remove(&id)?;
        for t in &story.indexed {
            if let Some(list) = self.index.get_mut(t) {
                list.retain(|s| *s != id);
                if list.is_empty() {
                    self.index.remove(t);
                }
            }
        }
        self.changed.remove(&id);
        Some(story)
    }

    /// Indexes a story under its heaviest terms (after its centroid changed).
    fn reindex(&mut self, id: StoryId) {
        let Some(s) = self.stories.get_mut(&id) else { return };
        let mut top: Vec<(u32, f32)> = s.vec.clone();
        if top.len() > INDEX_TERMS {
            top.select_nth_unstable_by(INDEX_TERMS, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            top.truncate(INDEX_TERMS);
        }
        let mut now: Vec<u32> = top.into_iter().map(|x| x.0).collect();
        now.sort_unstable();
        let before = std::mem::replace(&mut s.indexed, now.clone());
        for t in before.iter().filter(|t| now.binary_search(t).is_err()) {
            if let Some(list) = self.index.get_mut(t) {
                list.retain(|x| *x != id);
                if list.is_empty() {
                    self.index.remove(t);
                }
            }
        }
        for t in now.iter().filter(|t| before.binary_search(t).is_err()) {
            self.index.entry(*t).or_default().push(id);
        }
    }

    /// Places one item (items should come roughly in time order).
    pub fn place(&mut self, item: &StoryInput<'_>) -> Placement {
        let cfg = self.config;
        let vec = self.temper(item.terms);
        let item_norm = norm(&vec);
        // 1. Near-duplicates follow their group.
        if let Some(story) = item.dup_group.and_then(|g| self.dup_story.get(&g)).map(|s| self.resolve(*s)) {
            if self.stories.contains_key(&story) {
                let woke = item.published_at - self.stories[&story].last_seen > cfg.dormant_after;
                self.add(story, item, &vec, item_norm);
                return Placement { story, new: false, woke, merged: Vec::new(), similarity: 1.0 };
            }
        }
        // 2. Similar stories, found through the item's heaviest terms that are not everywhere.
        let mut scored: Vec<(StoryId, f32, bool)> = Vec::new();
        if item_norm > 0.0 {
            let mut query: Vec<(u32, f32)> = vec.clone();
            query.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let common = |t: u32| self.docs >= DF_MIN_DOCS && self.df.get(&t).copied().unwrap_or(0) * 20 > self.docs;
            let mut candidates: Vec<StoryId> = Vec::new();
            for (t, _) in query.iter().filter(|(t, _)| !common(*t)).take(QUERY_TERMS) {
                if let Some(list) = self.index.get(t) {
                    candidates.extend_from_slice(list);
                }
            }
            candidates.sort_unstable();
            candidates.dedup();
            for id in candidates {
                let s = &self.stories[&id];
                let cos = cosine(&vec, item_norm, &s.vec, s.norm);
                let gap = (item.published_at - s.last_seen).max(Duration::zero());
                let decay = 0.5f32.powf(gap.num_seconds() as f32 / cfg.half_life.num_seconds().max(1) as f32);
                let dormant = gap > cfg.dormant_after;
                // Active stories fade with time; a dormant one is judged by content alone,
                // against the higher wake threshold.
                let sim = if dormant { cos } else { cos * decay };
                let needed = if dormant { cfg.wake } else { cfg.join };
                if sim >= needed {
                    scored.push((id, sim, dormant));
                }
            }
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let Some(&(best, sim, woke)) = scored.first() else {
            let id = self.start(item, &vec, item_norm);
            return Placement { story: id, new: true, woke: false, merged: Vec::new(), similarity: 0.0 };
        };
        // 3. Merges: the item bridges the best story and another close one.
        let mut merged = Vec::new();
        let mut survivor = best;
        for &(other, other_sim, _) in &scored[1..] {
            if other_sim < cfg.merge {
                break;
            }
            let (a, b) = (&self.stories[&survivor], &self.stories[&other]);
            if cosine(&a.vec, a.norm, &b.vec, b.norm) >= cfg.merge {
                let (keep, gone) = if other < survivor { (other, survivor) } else { (survivor, other) };
                self.absorb(keep, gone);
                merged.push((gone, keep));
                survivor = keep;
            }
        }
        self.add(survivor, item, &vec, item_norm);
        let mut placement = Placement { story: survivor, new: false, woke, merged, similarity: sim };
        self.maybe_merge_pass(item.published_at, &mut placement);
        placement
    }

    /// Every [`MERGE_PASS_EVERY`] placements: stories active in the last day whose centroids have
    /// grown close ([`StoryConfig::merge`]) are merged, the younger id into the older. Two
    /// threads of talk about one event often start apart (first posts, then news reports) and
    /// meet later.
    fn maybe_merge_pass(&mut self, now: DateTime<Utc>, placement: &mut Placement) {
        self.since_pass += 1;
        if self.since_pass < MERGE_PASS_EVERY {
            return;
        }
        self.since_pass = 0;
        let cfg = self.config;
        let mut dirty: Vec<StoryId> = self.pass_dirty.drain().collect();
        dirty.sort_unstable();
        let recent = |s: &Story| now - s.last_seen <= Duration::hours(24) && s.items >= 2;
        for id in dirty {
            let Some(s) = self.stories.get(&id).filter(|s| recent(s)) else { continue };
            // Candidates through the story's indexed terms that are not everywhere.
            let common = |t: u32| self.docs >= DF_MIN_DOCS && self.df.get(&t).copied().unwrap_or(0) * 20 > self.docs;
            let mut candidates: Vec<StoryId> = s
                .indexed
                .iter()
                .filter(|t| !common(**t))
                .filter_map(|t| self.index.get(t))
                .flatten()
                .copied()
                .filter(|o| *o != id)
                .take(PASS_CANDIDATES)
                .collect();
            candidates.sort_unstable();
            candidates.dedup();
            for other in candidates {
                let (Some(a), Some(b)) = (self.stories.get(&id), self.stories.get(&other)) else { continue };
                if !recent(b) || cosine(&a.vec, a.norm, &b.vec, b.norm) < cfg.merge {
                    continue;
                }
                let (keep, gone) = if id < other { (id, other) } else { (other, id) };
                self.absorb(keep, gone);
                placement.merged.push((gone, keep));
                if placement.story == gone {
                    placement.story = keep;
                }
                if gone == id {
                    break;
                }
            }
        }
    }

    /// Counts the item's terms in the stream and returns them by id, scaled down when they are
    /// found in more than one item in a hundred (in ten: by half).
    fn temper(&mut self, terms: &[(String, f32)]) -> Vec<(u32, f32)> {
        let mut vec = self.intern_terms(terms);
        self.docs += 1;
        if self.docs >= DF_HALVE_AT {
            self.docs /= 2;
            self.df.retain(|_, n| {
                *n /= 2;
                *n > 0
            });
        }
        for (t, _) in &vec {
            *self.df.entry(*t).or_default() += 1;
        }
        if self.docs >= DF_MIN_DOCS {
            let docs = self.docs as f32;
            for (t, w) in &mut vec {
                let df = self.df.get(t).copied().unwrap_or(1) as f32;
                *w *= ((docs / df).ln() / 100f32.ln()).clamp(0.05, 1.0);
            }
        }
        vec
    }

    fn start(&mut self, item: &StoryInput<'_>, vec: &[(u32, f32)], item_norm: f32) -> StoryId {
        let id = self.next_id;
        self.next_id += 1;
        let story = Story {
            id,
            title: headline(item.headline),
            first_seen: item.published_at,
            first_source: item.source.to_string(),
            last_seen: item.published_at,
            items: 0,
            reposts: 0,
            sources: Vec::new(),
            sentiment: [0; 3],
            centroid: Vec::new(),
            title_terms: Vec::new(),
            vec: Vec::new(),
            norm: 0.0,
            title_vec: Vec::new(),
            title_norm: 0.0,
            indexed: Vec::new(),
        };
        self.stories.insert(id, story);
        self.add(id, item, vec, item_norm);
        id
    }

    fn add(&mut self, id: StoryId, item: &StoryInput<'_>, vec: &[(u32, f32)], item_norm: f32) {
        let cfg = self.config;
        if let Some(g) = item.dup_group {
            self.dup_story.entry(g).or_insert(id);
        }
        let story = self.stories.get_mut(&id).expect("placed in a held story");
        story.items += 1;
        if item.is_copy {
            story.reposts += 1;
        }
        if !story.sources.iter().any(|s| s == item.source) {
            story.sources.push(item.source.to_string());
        }
        story.sentiment[item.sentiment as usize] += 1;
        if item.published_at < story.first_seen {
            story.first_seen = item.published_at;
            story.first_source = item.source.to_string();
        }
        story.last_seen = story.last_seen.max(item.published_at);
        let mut reindex = false;
        if item_norm > 0.0 {
            let scaled: Vec<(u32, f32)> = vec.iter().map(|(t, w)| (*t, w / item_norm)).collect();
            story.vec = add_vectors(&story.vec, &scaled, cfg.centroid_terms);
            story.norm = norm(&story.vec);
            reindex = true;
        }
        // The title is the original (non-copy) item closest to the current centroid.
        if !item.is_copy && !item.headline.is_empty() {
            let fit = cosine(vec, item_norm, &story.vec, story.norm);
            let current = cosine(&story.title_vec, story.title_norm, &story.vec, story.norm);
            if story.title.is_empty() || story.title_vec.is_empty() || fit > current + 0.02 {
                story.title = headline(item.headline);
                story.title_terms = item.terms.to_vec();
                story.title_vec = vec.to_vec();
                story.title_norm = item_norm;
            }
        }
        self.changed.insert(id);
        self.pass_dirty.insert(id);
        if reindex {
            self.reindex(id);
        }
    }

    fn absorb(&mut self, keep: StoryId, gone: StoryId) {
        let Some(g) = self.remove(gone) else { return };
        // Near-duplicate groups of `gone` still point at it; lookups resolve the redirect.
        self.redirects.insert(gone, keep);
        let cfg = self.config;
        let k = self.stories.get_mut(&keep).expect("survivor is held");
        k.items += g.items;
        k.reposts += g.reposts;
        for s in g.sources {
            if !k.sources.contains(&s) {
                k.sources.push(s);
            }
        }
        for i in 0..3 {
            k.sentiment[i] += g.sentiment[i];
        }
        if g.first_seen < k.first_seen {
            k.first_seen = g.first_seen;
            k.first_source = g.first_source;
        }
        k.last_seen = k.last_seen.max(g.last_seen);
        k.vec = add_vectors(&k.vec, &g.vec, cfg.centroid_terms);
        k.norm = norm(&k.vec);
        self.changed.insert(keep);
        self.reindex(keep);
    }
}

fn norm(v: &[(u32, f32)]) -> f32 {
    v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt()
}

/// The sum of two vectors sorted by id, cut to its `keep` heaviest terms (sorted by id).
fn add_vectors(a: &[(u32, f32)], b: &[(u32, f32)], keep: usize) -> Vec<(u32, f32)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                out.push((x.0, x.1 + y.1));
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                out.push(*x);
                i += 1;
            }
            (Some(_), Some(y)) => {
                out.push(*y);
                j += 1;
            }
            (Some(x), None) => {
                out.push(*x);
                i += 1;
            }
            (None, Some(y)) => {
                out.push(*y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    if out.len() > keep {
        out.select_nth_unstable_by(keep, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(keep);
        out.sort_unstable_by_key(|x| x.0);
    }
    out
}

/// Cosine of two sparse vectors sorted by id.
fn cosine(a: &[(u32, f32)], a_norm: f32, b: &[(u32, f32)], b_norm: f32) -> f32 {
    if a_norm == 0.0 || b_norm == 0.0 {
        return 0.0;
    }
    let (mut i, mut j, mut dot) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Equal => {
                dot += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    dot / (a_norm * b_norm)
}

fn headline(s: &str) -> String {
    tidewatch_text::snippet::truncate_chars(s, 60)
}

thread_local! {
    /// Dictionary IDF per term (looking a word up in the dictionary costs a segmentation). One
    /// segmenter per process in practice; a user dictionary changes rates only at restart.
    static IDF_CACHE: std::cell::RefCell<HashMap<String, f32>> = std::cell::RefCell::new(HashMap::new());
}

const EN_STOP: &[&str] = &[
    "the", "and", "for", "that", "this", "with", "are", "was", "were", "have", "has", "had", "not", "but", "you",
    "your", "our", "their", "they", "them", "from", "about", "what", "when", "who", "will", "would", "can", "could",
    "just", "all", "any", "been", "its", "it's", "more", "out", "one", "there", "here", "than", "then", "also", "into",
    "some", "very", "http", "https", "www", "com",
];

/// The distinctive terms of a text, weighted by TF-IDF: tokens of two or more Han characters or
/// three or more Latin letters, inverse document frequency from the dictionary's word
/// frequencies; the `n` heaviest.
pub fn terms(segmenter: &Segmenter, folded_tokens: &[&str], n: usize) -> Vec<(String, f32)> {
    let mut tf: HashMap<&str, u32> = HashMap::new();
    for t in folded_tokens {
        let chars = t.chars().count();
        let han = t.chars().all(is_han);
        let latin = t.chars().all(|c| c.is_ascii_alphabetic());
        if (han && chars >= 2) || (latin && chars >= 3 && !EN_STOP.contains(t)) {
            *tf.entry(t).or_default() += 1;
        }
    }
    let mut out: Vec<(String, f32)> = IDF_CACHE.with_borrow_mut(|cache| {
        if cache.len() > 500_000 {
            cache.clear();
        }
        tf.into_iter()
            .filter_map(|(t, n)| {
                let idf = match cache.get(t) {
                    Some(idf) => *idf,
                    None => {
                        let rate = segmenter.word_rate(t).max(1e-8);
                        let idf = (-(rate.ln()) as f32 - 7.0).max(0.0);
                        cache.insert(t.to_string(), idf);
                        idf
                    }
                };
                (idf > 0.0).then(|| (t.to_string(), (1.0 + (n as f32).ln()) * idf))
            })
            .collect()
    });
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 5, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn input<'a>(h: i64, terms: &'a [(String, f32)], dup: Option<u64>) -> StoryInput<'a> {
        StoryInput {
            published_at: at(h),
            dup_group: dup,
            is_copy: false,
            terms,
            source: "s",
            sentiment: Polarity::Neutral,
            headline: "h",
        }
    }

    fn t(words: &[&str]) -> Vec<(String, f32)> {
        words.iter().map(|w| (w.to_string(), 1.0)).collect()
    }

    #[test]
    fn similar_items_join_and_different_ones_start_stories() {
        let mut s = Stories::new(StoryConfig::default(), 1);
        let a = t(&["食堂", "中毒", "学生", "第三"]);
        let b = t(&["食堂", "中毒", "医院", "第三"]);
        let c = t(&["运动会", "开幕", "操场"]);
        let p1 = s.place(&input(0, &a, Some(10)));
        let p2 = s.place(&input(1, &b, Some(11)));
        let p3 = s.place(&input(2, &c, Some(12)));
        assert!(p1.new && !p2.new && p3.new);
        assert_eq!(p1.story, p2.story);
        assert_ne!(p1.story, p3.story);
        // a near-duplicate follows its group even with no shared terms
        let p4 = s.place(&input(3, &[], Some(11)));
        assert_eq!(p4.story, p1.story);
        assert_eq!(s.get(p1.story).unwrap().items, 3);
    }

    #[test]
    fn dormant_stories_need_more_to_wake() {
        let mut s = Stories::new(StoryConfig::default(), 1);
        let a = t(&["暖气", "停供", "北苑", "宿舍"]);
        let weak = t(&["暖气", "图书馆", "开放", "时间", "延长"]);
        let p1 = s.place(&input(0, &a, None));
        // 10 days later: a weak match does not wake it
        let p2 = s.place(&input(240, &weak, None));
        assert_ne!(p2.story, p1.story);
        // a strong one does
        let p3 = s.place(&input(241, &a, None));
        assert_eq!(p3.story, p1.story);
        assert!(p3.woke);
    }

    #[test]
    fn a_bridging_item_merges_two_stories_and_the_old_id_redirects() {
        let cfg = StoryConfig { join: 0.55, merge: 0.45, ..StoryConfig::default() };
        let mut s = Stories::new(cfg, 1);
        let a = t(&["食堂", "中毒", "学生", "呕吐"]);
        let b = t(&["食堂", "中毒", "通报", "检测"]);
        let p1 = s.place(&input(0, &a, None));
        let p2 = s.place(&input(1, &b, None));
        assert_ne!(p1.story, p2.story, "separate at first");
        let bridge = t(&["食堂", "中毒", "学生", "呕吐", "通报", "检测"]);
        let p3 = s.place(&input(2, &bridge, None));
        assert_eq!(p3.merged, vec![(p2.story, p1.story)]);
        assert_eq!(s.resolve(p2.story), p1.story);
        assert_eq!(s.get(p2.story).unwrap().id, p1.story);
        assert_eq!(s.get(p1.story).unwrap().items, 3);
        // ids are never reused
        let p4 = s.place(&input(3, &t(&["完全", "无关"]), None));
        assert!(p4.story > p2.story);
    }

    #[test]
    fn restore_keeps_ids_and_groups() {
        let mut s = Stories::new(StoryConfig::default(), 1);
        let a = t(&["食堂", "中毒", "学生"]);
        let p = s.place(&input(0, &a, Some(5)));
        // what the store keeps: the state written after a batch
        let saved = serde_json::to_string(s.take_changed()[0]).unwrap();
        let story: Story = serde_json::from_str(&saved).unwrap();
        let mut r = Stories::new(StoryConfig::default(), 1);
        r.restore(story);
        r.restore_dup(5, p.story);
        assert_eq!(r.place(&input(1, &[], Some(5))).story, p.story);
        assert_eq!(r.place(&input(1, &a, None)).story, p.story);
        assert!(r.place(&input(1, &t(&["别的", "事情"]), None)).story > p.story);
    }

    #[test]
    fn terms_prefer_rare_words() {
        let seg = Segmenter::shared_default();
        let tokens = ["我们", "的", "澜江", "食堂", "中毒", "the", "canteen"];
        let terms = terms(&seg, &tokens, 10);
        let names: Vec<&str> = terms.iter().map(|(t, _)| t.as_str()).collect();
        assert!(names.contains(&"中毒") && names.contains(&"canteen"), "{names:?}");
        assert!(!names.contains(&"的") && !names.contains(&"the"));
        let w = |n: &str| terms.iter().find(|(t, _)| t == n).map(|x| x.1).unwrap_or(0.0);
        assert!(w("中毒") > w("我们"), "{terms:?}");
    }
}
