//! The ingest pipeline over the store: prepare items in parallel, collapse duplicates, write
//! durably, index.
//!
//! A batch goes through three stages. **Prepare** runs the text pipeline on every input on all
//! cores. **Write** runs on one thread, in one SQLite transaction: each item is checked against
//! the idempotency key, given its duplicate group by the in-memory [`Deduper`], and stored; the
//! commit makes the whole batch durable, and only then is it reported as stored. **Index** adds
//! the new items to tantivy; the index is committed from time to time and always catches up with
//! the store when opened, so it never disagrees with the store for long, and never after a restart.

use crate::analysis::{Analysis, AnalysisConfig, ItemAnalysis};
use crate::metrics::{Stage, METRICS};
use crate::topics::{ActiveTopics, TopicDiagnostic, TopicHit};
use crate::EngineError;
use chrono::{DateTime, Utc};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tidewatch_model::{GroupId, Item, ItemId, ItemInput};
use tidewatch_store::db::hour_of;
use tidewatch_store::{Db, Inserted, SearchIndex, StoredItem, TopicKey};
use tidewatch_text::dedup::{DedupConfig, Deduper, DupReason};
use tidewatch_text::rules::MIN_RARITY_SAMPLE;
use tidewatch_text::{prepare, InvalidItem, PrepareOptions, Prepared, Segmenter};

/// How many of the newest stored items topic rules learn the rarity of their terms from when
/// they are compiled (see [`tidewatch_text::rules::RuleSet::tuned`]).
pub const RARITY_SAMPLE: usize = 2000;

/// The layout of a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A data directory at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The tantivy index directory.
    pub fn index_dir(&self) -> PathBuf {
        self.root.join("index")
    }

    /// The optional analysis settings (burst sensitivity, special periods).
    pub fn analysis_config(&self) -> PathBuf {
        self.root.join("analysis.toml")
    }

    /// The optional user dictionary (jieba format).
    pub fn user_dict(&self) -> PathBuf {
        self.root.join("userdict.txt")
    }
}

/// Settings of the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    /// Duplicate detection.
    pub dedup: DedupConfig,
    /// Commit the index after this many new documents…
    pub index_commit_docs: usize,
    /// …or when this long has passed since the last index commit.
    pub index_commit_interval: Duration,
    /// Topics are compiled again, with the rarity of their terms learned afresh from the newest
    /// stored items, at most this often: once enough items were stored since (see
    /// [`Pipeline::write_prepared`]).
    pub rarity_refresh: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            dedup: DedupConfig::default(),
            index_commit_docs: 100_000,
            index_commit_interval: Duration::from_secs(5),
            rarity_refresh: Duration::from_secs(3600),
        }
    }
}

/// What became of one input.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Stored as a new item; `duplicate` says why it joined an existing group, if it did.
    Stored {
        /// Its id.
        id: ItemId,
        /// Its group.
        group: GroupId,
        /// Why it is a duplicate (`None`: it started its own group).
        duplicate: Option<DupReason>,
    },
    /// An item with the same key was already stored; `same_content` says whether it is identical.
    AlreadyStored {
        /// The stored item.
        id: ItemId,
        /// Whether the stored item has the same text.
        same_content: bool,
    },
    /// Refused.
    Rejected(InvalidItem),
}

/// The outcomes of one batch, in input order, and the items it stored.
#[derive(Debug, Default)]
pub struct BatchResult {
    /// One outcome per input.
    pub outcomes: Vec<Outcome>,
    /// The items stored by this batch, for live display.
    pub stored: Vec<StoredItem>,
    /// The ids of the topics each of them matched.
    pub stored_topics: Vec<Vec<String>>,
}

/// The store, the index and the duplicate finder, kept in agreement.
pub struct Pipeline {
    db: Db,
    index: SearchIndex,
    dedup: Deduper,
    segmenter: Arc<Segmenter>,
    config: PipelineConfig,
    last_index_commit: Instant,
    last_stored: ItemId,
    topics: Arc<ActiveTopics>,
    /// When the topics were compiled, and how many items were stored since.
    topics_compiled: Instant,
    stored_since_topics: usize,
    analysis: Analysis,
    analysis_config: AnalysisConfig,
}

/// An item ready to be written: the text pipeline's output and the topics it matched.
#[derive(Debug)]
pub struct Ready {
    /// Normalized item, fingerprint and index tokens.
    pub prepared: Prepared,
    /// The enabled topics it matched.
    pub topics: Vec<TopicHit>,
    /// Sentiment and story terms.
    pub analysis: ItemAnalysis,
}

/// Runs the text pipeline and the topic rules on one input (the parallel stage).
pub fn make_ready(
    input: &ItemInput,
    now: DateTime<Utc>,
    segmenter: &Segmenter,
    topics: &ActiveTopics,
) -> Result<Ready, InvalidItem> {
    let m = &METRICS;
    let t0 = Instant::now();
    let prepared = prepare(input, now, segmenter, PrepareOptions { tokens: true });
    let t1 = Instant::now();
    m.observe(Stage::PrepareText, t1 - t0);
    let prepared = prepared?;
    let topics = topics.hits(&prepared.item);
    let t2 = Instant::now();
    m.observe(Stage::PrepareTopics, t2 - t1);
    let sentiment = tidewatch_detect::sentiment::Analyzer::shared().analyze(
        prepared.item.lang,
        &prepared.item.title,
        &prepared.item.text,
    );
    let t3 = Instant::now();
    m.observe(Stage::PrepareSentiment, t3 - t2);
    let terms = crate::analyze::story_terms(&prepared, segmenter);
    m.observe(Stage::PrepareTerms, t3.elapsed());
    Ok(Ready { prepared, topics, analysis: ItemAnalysis { sentiment, terms } })
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("last_stored", &self.last_stored).finish()
    }
}

/// Loads the segmenter for a data directory: built-in dictionaries plus `userdict.txt` if present.
pub fn load_segmenter(dir: &DataDir) -> Result<Arc<Segmenter>, EngineError> {
    let path = dir.user_dict();
    if path.exists() {
        let f = std::fs::File::open(&path).map_err(|e| EngineError::Io(format!("{}: {e}", path.display())))?;
        let mut r = std::io::BufReader::new(f);
        Ok(Arc::new(Segmenter::new(Some(&mut r)).map_err(|e| EngineError::Config(format!("{}: {e}", path.display())))?))
    } else {
        Ok(Segmenter::shared_default())
    }
}

fn rebuild_dedup(db: &Db, config: DedupConfig) -> Result<Deduper, EngineError> {
    let mut dedup = Deduper::new(config);
    db.for_each_dedup_row(|r| dedup.insert(&r.fingerprint, r.canonical_url, r.group.0 as u64))?;
    Ok(dedup)
}

impl Pipeline {
    /// Opens the data directory for writing: migrates the store, rebuilds the duplicate finder
    /// and brings the index up to date with the store.
    pub fn open(dir: &DataDir, segmenter: Arc<Segmenter>, config: PipelineConfig) -> Result<Pipeline, EngineError> {
        let mut db = Db::open(dir.root())?;
        // Fingerprints of an older scheme are recomputed before the finder is built from them.
        let recomputed = db.refingerprint()?;
        if recomputed > 0 {
            tracing::info!(items = recomputed, "recomputed the fingerprints of stored items (new fingerprint scheme)");
        }
        // The sentiment models load on first use (about half a second): now, not in the first
        // request that stores an item.
        tidewatch_detect::sentiment::Analyzer::shared();
        let index = SearchIndex::open(&dir.index_dir(), segmenter.clone(), true)?;
        let dedup = rebuild_dedup(&db, config.dedup)?;
        let last_stored = db.max_item_id()?;
        let analysis_config = match std::fs::read_to_string(dir.analysis_config()) {
            Ok(text) => AnalysisConfig::from_toml(&text)
                .map_err(|e| EngineError::Config(format!("{}: {e}", dir.analysis_config().display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => AnalysisConfig::default(),
            Err(e) => return Err(EngineError::Io(format!("{}: {e}", dir.analysis_config().display()))),
        };
        let analysis = Analysis::open(&db, analysis_config.clone(), chrono::Utc::now())?;
        let mut p = Pipeline {
            db,
            index,
            dedup,
            segmenter,
            config,
            last_index_commit: Instant::now(),
            last_stored,
            topics: Arc::new(ActiveTopics::empty()),
            topics_compiled: Instant::now(),
            stored_since_topics: 0,
            analysis,
            analysis_config,
        };
        p.reload_topics()?;
        p.catch_up_index()?;
        Ok(p)
    }

    /// Compiles the store's enabled topics again (after a topic was saved). Items stored from
    /// now on are matched against them; items already stored keep the hits they got when they
    /// were stored. Returns the topics that could not be compiled.
    pub fn reload_topics(&mut self) -> Result<Vec<TopicDiagnostic>, EngineError> {
        let recent: Vec<Item> = self.db.newest_items(RARITY_SAMPLE)?.into_iter().map(|s| s.item).collect();
        let (topics, diags) = ActiveTopics::new(&self.db.topics()?, &recent);
        for d in &diags {
            tracing::warn!(%d, "stored topic left out");
        }
        self.topics = Arc::new(topics);
        self.topics_compiled = Instant::now();
        self.stored_since_topics = 0;
        Ok(diags)
    }

    /// Whether the topics should be compiled again to learn the rarity of their terms from
    /// newer items: [`PipelineConfig::rarity_refresh`] has passed and, since they were compiled,
    /// half the sample's worth of items were stored — or, while they learned from too few
    /// items to use, enough to learn from.
    fn rarity_refresh_due(&self) -> bool {
        let wanted = if self.topics.learned_from() == 0 { MIN_RARITY_SAMPLE } else { RARITY_SAMPLE / 2 };
        !self.topics.is_empty()
            && self.stored_since_topics >= wanted
            && self.topics_compiled.elapsed() >= self.config.rarity_refresh
    }

    /// The analysis state (stories, burst series).
    pub fn analysis(&self) -> &Analysis {
        &self.analysis
    }

    /// The topics items are matched against.
    pub fn topics(&self) -> &Arc<ActiveTopics> {
        &self.topics
    }

    /// The store, for writes that are not items (topics, settings).
    pub fn db_mut(&mut self) -> &mut Db {
        &mut self.db
    }

    /// Indexes every stored item the index does not cover yet. Returns how many were indexed.
    pub fn catch_up_index(&mut self) -> Result<usize, EngineError> {
        let mut after = self.index.indexed_through();
        if after > self.last_stored {
            // The index claims more than the store has (the store was replaced): start over.
            tracing::warn!(index = after.0, store = self.last_stored.0, "the index is ahead of the store; reindexing");
            after = ItemId(0);
        }
        let mut n = 0;
        loop {
            let items = self.db.items_after(after, 2000)?;
            let Some(last) = items.last().map(|i| i.id) else { break };
            let seg = &self.segmenter;
            let tokens: Vec<_> =
                items.par_iter().map(|s| tidewatch_text::index_tokens(&s.item.title, &s.item.text, seg)).collect();
            let ids: Vec<ItemId> = items.iter().map(|s| s.id).collect();
            let topics = self.db.topics_of_items(&ids)?;
            for ((s, (title, text)), topics) in items.iter().zip(tokens).zip(topics) {
                self.index.add(s.id, s.group, &s.item, &title, &text, &topics)?;
            }
            n += items.len();
            after = last;
        }
        if n > 0 || after != self.index.indexed_through() {
            self.index.commit(after)?;
            self.last_index_commit = Instant::now();
            tracing::info!(items = n, through = after.0, "search index caught up with the store");
        }
        Ok(n)
    }

    /// The store.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The search index.
    pub fn index(&self) -> &SearchIndex {
        &self.index
    }

    /// The segmenter in use.
    pub fn segmenter(&self) -> &Arc<Segmenter> {
        &self.segmenter
    }

    /// Runs the text pipeline on a batch, in parallel.
    pub fn prepare_batch(&self, inputs: &[ItemInput], now: DateTime<Utc>) -> Vec<Result<Ready, InvalidItem>> {
        let (seg, topics) = (&self.segmenter, &self.topics);
        let started = Instant::now();
        let ready = inputs.par_iter().map(|i| make_ready(i, now, seg, topics)).collect();
        METRICS.observe(Stage::Prepare, started.elapsed());
        ready
    }

    /// Stores a batch durably and indexes it. When this returns `Ok`, every `Stored` outcome is
    /// durable.
    pub fn ingest(&mut self, inputs: &[ItemInput], now: DateTime<Utc>) -> Result<BatchResult, EngineError> {
        let prepared = self.prepare_batch(inputs, now);
        self.write_prepared(prepared, now)
    }

    /// The write and index stages for an already prepared batch.
    pub fn write_prepared(
        &mut self,
        prepared: Vec<Result<Ready, InvalidItem>>,
        now: DateTime<Utc>,
    ) -> Result<BatchResult, EngineError> {
        let mut result =
            BatchResult { outcomes: Vec::with_capacity(prepared.len()), stored: Vec::new(), stored_topics: Vec::new() };
        let mut new_items: Vec<(ItemId, GroupId, Prepared, Vec<String>)> = Vec::new();
        let m = &METRICS;
        m.items_received.add(prepared.len() as u64);
        // Time per sub-stage of this batch, observed once the batch is through.
        let mut spent = [Duration::ZERO; 5];
        let (mut duplicates, mut hit_rows) = (0u64, 0u64);
        // The batch's hits per topic and hour, added to the counts once at its end.
        let mut hour_hits: std::collections::HashMap<(i64, i64), u64> = std::collections::HashMap::new();
        let written = (|| -> Result<(), EngineError> {
            let mut tx = self.db.writer()?;
            for r in prepared {
                let (p, hits, analysis) = match r {
                    Ok(r) => (r.prepared, r.topics, r.analysis),
                    Err(e) => {
                        result.outcomes.push(Outcome::Rejected(e));
                        continue;
                    }
                };
                let t0 = Instant::now();
                let existing = tx.existing(&p.item.dedup_key)?;
                let t1 = Instant::now();
                spent[0] += t1 - t0;
                if let Some((id, hash)) = existing {
                    result.outcomes.push(Outcome::AlreadyStored { id, same_content: hash == p.item.content_hash });
                    continue;
                }
                let found = self.dedup.find(&p.fingerprint, p.item.canonical_url.as_deref());
                let group = found.map(|(g, _)| GroupId(g as i64));
                let inserted = tx.insert(&p.item, &p.fingerprint, group, now)?;
                let t2 = Instant::now();
                spent[1] += t2 - t1;
                match inserted {
                    Inserted::New(id, group) => {
                        self.dedup.insert(&p.fingerprint, p.item.canonical_url.as_deref(), group.0 as u64);
                        if !hits.is_empty() {
                            let keys: Vec<_> = hits.iter().map(|h| (h.key, h.version)).collect();
                            tx.insert_topic_hits(id, &keys)?;
                            let hour = hour_of(p.item.published_at);
                            for h in &hits {
                                *hour_hits.entry((h.key.0, hour)).or_insert(0) += 1;
                            }
                            hit_rows += keys.len() as u64;
                        }
                        let t3 = Instant::now();
                        spent[2] += t3 - t2;
                        self.analysis.add(&mut tx, id, group.0, found.is_some(), &p, &analysis, &hits)?;
                        spent[3] += t3.elapsed();
                        duplicates += found.is_some() as u64;
                        result.outcomes.push(Outcome::Stored { id, group, duplicate: found.map(|(_, r)| r) });
                        new_items.push((id, group, p, hits.into_iter().map(|h| h.id).collect()));
                    }
                    Inserted::Existing(id) => {
                        result.outcomes.push(Outcome::AlreadyStored { id, same_content: true });
                    }
                }
            }
            let t = Instant::now();
            let mut counts: Vec<_> = hour_hits.iter().map(|(&(k, h), &n)| (TopicKey(k), h, n)).collect();
            counts.sort_unstable_by_key(|&(k, h, _)| (k.0, h));
            tx.add_topic_hour_hits(&counts)?;
            spent[2] += t.elapsed();
            let t = Instant::now();
            self.analysis.save(&mut tx)?;
            spent[4] += t.elapsed();
            let t = Instant::now();
            tx.commit()?;
            m.observe(Stage::Commit, t.elapsed());
            Ok(())
        })();
        if let Err(e) = written {
            // The transaction rolled back: forget what the duplicate finder and the analysis
            // learnt from it.
            self.dedup = rebuild_dedup(&self.db, self.config.dedup)?;
            self.analysis = Analysis::open(&self.db, self.analysis_config.clone(), chrono::Utc::now())?;
            return Err(e);
        }
        for (stage, d) in
            [Stage::WriteLookup, Stage::WriteInsert, Stage::WriteHits, Stage::WriteAnalysis, Stage::WriteStories]
                .into_iter()
                .zip(spent)
        {
            m.observe(stage, d);
        }
        m.batches_written.add(1);
        m.items_stored.add(new_items.len() as u64);
        m.duplicates_found.add(duplicates);
        m.topic_hits_stored.add(hit_rows);
        m.items_rejected.add(result.outcomes.iter().filter(|o| matches!(o, Outcome::Rejected(_))).count() as u64);
        m.items_resubmitted
            .add(result.outcomes.iter().filter(|o| matches!(o, Outcome::AlreadyStored { .. })).count() as u64);
        self.stored_since_topics += new_items.len();
        let index_started = Instant::now();
        for (id, group, p, topics) in new_items {
            self.index.add(id, group, &p.item, &p.title_tokens, &p.text_tokens, &topics)?;
            self.last_stored = self.last_stored.max(id);
            result.stored.push(StoredItem { id, group, ingested_at: now, item: p.item });
            result.stored_topics.push(topics);
        }
        m.observe(Stage::Index, index_started.elapsed());
        self.commit_index_if_due()?;
        if self.rarity_refresh_due() {
            // The batch is stored: a failure here keeps the topics as they are, and is retried
            // after the next batch.
            if let Err(e) = self.reload_topics() {
                tracing::warn!(error = %e, "topics not compiled again; the current ones stay");
            }
        }
        Ok(result)
    }

    /// Commits the index when enough documents are pending or the commit interval has passed
    /// since the last commit with some pending. Servers call it on a timer, so that items become
    /// searchable within the interval even when nothing more arrives.
    pub fn commit_index_if_due(&mut self) -> Result<(), EngineError> {
        if self.analysis.series_save_due() {
            // Series left unwritten by the last batch (they are written at most every few
            // seconds): written once the interval has passed.
            let mut tx = self.db.writer()?;
            self.analysis.save(&mut tx)?;
            tx.commit()?;
        }
        if self.index.pending() >= self.config.index_commit_docs
            || (self.index.pending() > 0 && self.last_index_commit.elapsed() >= self.config.index_commit_interval)
        {
            self.commit_index()?;
        }
        Ok(())
    }

    /// Commits the index now, making every stored item searchable.
    pub fn commit_index(&mut self) -> Result<(), EngineError> {
        let started = Instant::now();
        self.index.commit(self.last_stored)?;
        METRICS.observe(Stage::IndexCommit, started.elapsed());
        self.last_index_commit = Instant::now();
        Ok(())
    }

    /// Writes what the analysis holds back and commits the index if anything is pending.
    pub fn flush(&mut self) -> Result<(), EngineError> {
        if self.analysis.has_unsaved_series() {
            let mut tx = self.db.writer()?;
            self.analysis.save_all(&mut tx)?;
            tx.commit()?;
        }
        if self.index.pending() > 0 || self.index.indexed_through() < self.last_stored {
            self.commit_index()?;
        }
        Ok(())
    }

    /// Retention: deletes up to `batch` items published and stored before `cutoff` (and not held)
    /// from the store and the search index, after finishing any deletion a kill interrupted.
    /// Returns how many items this call deleted from the store.
    pub fn purge_before(&mut self, cutoff: DateTime<Utc>, batch: usize) -> Result<usize, EngineError> {
        self.finish_purge_in_index()?;
        let ids = self.db.purge_items_before(cutoff, batch)?;
        if ids.is_empty() {
            return Ok(0);
        }
        self.finish_purge_in_index()?;
        // The duplicate finder forgets the deleted items' fingerprints.
        self.dedup = rebuild_dedup(&self.db, self.config.dedup)?;
        Ok(ids.len())
    }

    /// Deletes from the index the items the store deleted, commits, and clears the record.
    fn finish_purge_in_index(&mut self) -> Result<(), EngineError> {
        let pending = self.db.purge_pending()?;
        if pending.is_empty() {
            return Ok(());
        }
        self.index.delete(&pending)?;
        self.commit_index()?;
        self.db.clear_purge_pending(&pending)?;
        Ok(())
    }
}
