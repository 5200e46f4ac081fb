//! The full-text index: tantivy, in `<data dir>/index`, fed with tokens from the shared jieba
//! segmenter.
//!
//! The index holds no text of its own (the store does): each document is an item id, its tokens,
//! and the fields searches filter and sort on. Every commit records, in tantivy's commit payload,
//! the highest item id it covers. Since item ids only grow, opening the index and indexing the
//! store's items above that id brings the two back into agreement after any crash.

use crate::StoreError;
use chrono::{DateTime, Utc};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED,
    STRING,
};
use tantivy::tokenizer::{PreTokenizedString, Token as TvToken, TokenStream, Tokenizer};
use tantivy::{DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, TantivyDocument, Term};
use tidewatch_model::{GroupId, Item, ItemId};
use tidewatch_text::normalize::fold_with_map;
use tidewatch_text::{IndexToken, Segmenter};

const TOKENIZER: &str = "tidewatch_jieba";
const PAYLOAD_PREFIX: &str = "indexed_through=";

/// The tantivy tokenizer over the shared segmenter: folds, segments, and maps offsets back into
/// the original text. Used for text indexed without pre-computed tokens.
#[derive(Clone)]
struct JiebaTokenizer(Arc<Segmenter>);

struct VecTokenStream {
    tokens: Vec<TvToken>,
    next: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &TvToken {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut TvToken {
        &mut self.tokens[self.next - 1]
    }
}

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = VecTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let (folded, map) = fold_with_map(text);
        let mut toks = Vec::new();
        self.0.index_tokens(&folded, &mut toks);
        let tokens = toks
            .iter()
            .map(|t| {
                let (a, b) = map.original_range(t.start, t.end);
                TvToken {
                    offset_from: a,
                    offset_to: b,
                    position: t.position,
                    text: t.text.to_string(),
                    position_length: 1,
                }
            })
            .collect();
        VecTokenStream { tokens, next: 0 }
    }
}

#[derive(Clone, Copy)]
struct Fields {
    item_id: Field,
    group_id: Field,
    title: Field,
    text: Field,
    source: Field,
    lang: Field,
    published_at: Field,
    topic: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text_opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TOKENIZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        item_id: b.add_i64_field("item_id", INDEXED | FAST | STORED),
        group_id: b.add_i64_field("group_id", NumericOptions::default() | FAST),
        title: b.add_text_field("title", text_opts.clone()),
        text: b.add_text_field("text", text_opts),
        source: b.add_text_field("source", STRING | FAST),
        lang: b.add_text_field("lang", STRING),
        published_at: b.add_i64_field("published_at", INDEXED | FAST),
        topic: b.add_text_field("topic", STRING),
    };
    (b.build(), fields)
}

/// Order of search results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Best match first (BM25).
    #[default]
    Relevance,
    /// Latest publication first.
    Newest,
}

/// One piece of a parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryPart {
    /// A bare term (may segment into several words, which must then appear in sequence).
    Term(String),
    /// A quoted phrase.
    Phrase(String),
    /// A term or phrase that must not appear (`-term`).
    Exclude(String),
}

/// A search request.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// The query text: terms (all required), `"quoted phrases"`, `-excluded` terms.
    pub query: String,
    /// Published at or after.
    pub since: Option<DateTime<Utc>>,
    /// Published before.
    pub until: Option<DateTime<Utc>>,
    /// Only these sources (any of them).
    pub sources: Vec<String>,
    /// Only this language.
    pub lang: Option<String>,
    /// Only items that matched one of these topics (by topic id) when they were stored.
    pub topics: Vec<String>,
    /// Maximum hits returned.
    pub limit: usize,
    /// Hits to skip (paging).
    pub offset: usize,
    /// Result order.
    pub order: SortOrder,
}

/// A search hit: the item id and its score (0 when sorted by time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchHit {
    /// Item id.
    pub item: ItemId,
    /// BM25 score.
    pub score: f32,
}

/// The hits of one page and the total count.
#[derive(Debug, Clone)]
pub struct SearchResults {
    /// Hits, in the requested order.
    pub hits: Vec<SearchHit>,
    /// All matching documents.
    pub total: usize,
    /// The words searched for (matching form), for highlighting.
    pub terms: Vec<String>,
}

/// Splits a query string into terms, phrases and exclusions. Unbalanced quotes close at the end.
pub fn parse_query(q: &str) -> Vec<QueryPart> {
    let mut parts = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let exclude = c == '-';
        if exclude {
            chars.next();
        }
        let quoted = matches!(chars.peek(), Some('"') | Some('“') | Some('「'));
        let mut word = String::new();
        if quoted {
            chars.next();
            for c in chars.by_ref() {
                if matches!(c, '"' | '”' | '」') {
                    break;
                }
                word.push(c);
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        if word.trim().is_empty() {
            continue;
        }
        parts.push(match (exclude, quoted) {
            (true, _) => QueryPart::Exclude(word),
            (false, true) => QueryPart::Phrase(word),
            (false, false) => QueryPart::Term(word),
        });
    }
    parts
}

/// The search index.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    fields: Fields,
    segmenter: Arc<Segmenter>,
    indexed_through: ItemId,
    /// The highest id that may be in the index: the last commit's, or higher when added since.
    /// Adding an id above it needs no delete first (the new items of every batch).
    max_added: ItemId,
    pending: usize,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").field("indexed_through", &self.indexed_through).finish()
    }
}

fn tv(e: tantivy::TantivyError) -> StoreError {
    StoreError::Index(e.to_string())
}

/// A query matching documents whose `field` holds any of `values` exactly.
fn any_of(field: Field, values: &[String]) -> Box<dyn Query> {
    let any: Vec<(Occur, Box<dyn Query>)> = values
        .iter()
        .map(|v| {
            let q: Box<dyn Query> = Box::new(TermQuery::new(Term::from_field_text(field, v), IndexRecordOption::Basic));
            (Occur::Should, q)
        })
        .collect();
    Box::new(BooleanQuery::new(any))
}

impl SearchIndex {
    /// Opens (creating if needed) the index in `dir`. With `writable`, takes tantivy's writer
    /// lock: only one process may write.
    pub fn open(dir: &Path, segmenter: Arc<Segmenter>, writable: bool) -> Result<SearchIndex, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let (schema, fields) = schema();
        let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|e| StoreError::Index(e.to_string()))?;
        let index = match Index::open_or_create(mmap.clone(), schema.clone()) {
            // An index written by an earlier Tidewatch with other fields: the store is the source
            // of truth, so start a new index and let the caller's catch-up fill it.
            Err(tantivy::TantivyError::SchemaError(e)) if writable => {
                tracing::warn!(error = %e, "the search index has an older schema; rebuilding it from the store");
                drop(mmap);
                std::fs::remove_dir_all(dir)
                    .and_then(|_| std::fs::create_dir_all(dir))
                    .map_err(|e| StoreError::Io(format!("cannot recreate {}: {e}", dir.display())))?;
                let mmap =
                    tantivy::directory::MmapDirectory::open(dir).map_err(|e| StoreError::Index(e.to_string()))?;
                Index::create(mmap, schema, tantivy::IndexSettings::default()).map_err(tv)?
            }
            other => other.map_err(tv)?,
        };
        index.tokenizers().register(TOKENIZER, JiebaTokenizer(segmenter.clone()));
        let metas = index.load_metas().map_err(tv)?;
        let indexed_through = metas
            .payload
            .as_deref()
            .and_then(|p| p.strip_prefix(PAYLOAD_PREFIX))
            .and_then(|n| n.parse().ok())
            .map(ItemId)
            .unwrap_or(ItemId(0));
        let writer = if writable { Some(index.writer_with_num_threads(1, 64 << 20).map_err(tv)?) } else { None };
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(tv)?;
        Ok(SearchIndex {
            index,
            reader,
            writer,
            fields,
            segmenter,
            indexed_through,
            max_added: indexed_through,
            pending: 0,
        })
    }

    /// The highest item id covered by the last commit.
    pub fn indexed_through(&self) -> ItemId {
        self.indexed_through
    }

    /// Documents added since the last commit.
    pub fn pending(&self) -> usize {
        self.pending
    }

    fn writer(&mut self) -> Result<&mut IndexWriter, StoreError> {
        self.writer.as_mut().ok_or_else(|| StoreError::Index("the index was opened read-only".into()))
    }

    /// Adds an item with its pre-computed tokens and the ids of the topics it matched. Re-adding
    /// an id replaces the earlier document.
    pub fn add(
        &mut self,
        id: ItemId,
        group: GroupId,
        item: &Item,
        title_tokens: &[IndexToken],
        text_tokens: &[IndexToken],
        topics: &[String],
    ) -> Result<(), StoreError> {
        let f = self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_i64(f.item_id, id.0);
        doc.add_i64(f.group_id, group.0);
        doc.add_pre_tokenized_text(f.title, pre_tokenized(title_tokens));
        doc.add_pre_tokenized_text(f.text, pre_tokenized(text_tokens));
        doc.add_text(f.source, &item.source);
        doc.add_text(f.lang, item.lang.as_str());
        doc.add_i64(f.published_at, item.published_at.timestamp_millis());
        for t in topics {
            doc.add_text(f.topic, t);
        }
        let may_be_there = id <= self.max_added;
        let writer = self.writer()?;
        if id <= ItemId(0) {
            return Err(StoreError::Index(format!("invalid item id {id}")));
        }
        // A delete costs a lookup in every segment at the next commit: only when the id may
        // already be there (a catch-up over a replaced store).
        if may_be_there {
            writer.delete_term(Term::from_field_i64(f.item_id, id.0));
        }
        writer.add_document(doc).map_err(tv)?;
        self.max_added = self.max_added.max(id);
        self.pending += 1;
        Ok(())
    }

    /// Deletes the documents of `ids` (retention); visible after the next commit.
    pub fn delete(&mut self, ids: &[ItemId]) -> Result<(), StoreError> {
        let field = self.fields.item_id;
        let writer = self.writer()?;
        for id in ids {
            writer.delete_term(Term::from_field_i64(field, id.0));
        }
        self.pending += ids.len();
        Ok(())
    }

    /// Commits everything added so far, recording that the index covers items up to `through`.
    pub fn commit(&mut self, through: ItemId) -> Result<(), StoreError> {
        let writer = self.writer()?;
        let mut prepared = writer.prepare_commit().map_err(tv)?;
        prepared.set_payload(&format!("{PAYLOAD_PREFIX}{}", through.0));
        prepared.commit().map_err(tv)?;
        self.indexed_through = through;
        self.pending = 0;
        self.reader.reload().map_err(tv)?;
        Ok(())
    }

    /// Makes the latest commit visible to searches (for read-only openers).
    pub fn reload(&self) -> Result<(), StoreError> {
        self.reader.reload().map_err(tv)
    }

    /// Number of documents visible to searches.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// All item ids in the index, sorted (for consistency checks).
    pub fn all_ids(&self) -> Result<Vec<ItemId>, StoreError> {
        let searcher = self.reader.searcher();
        let mut ids = Vec::with_capacity(searcher.num_docs() as usize);
        for seg in searcher.segment_readers() {
            let col = seg.fast_fields().i64("item_id").map_err(tv)?;
            let alive = seg.alive_bitset();
            for doc in 0..seg.max_doc() {
                if alive.is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                if let Some(v) = col.first(doc) {
                    ids.push(ItemId(v));
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    fn words(&self, s: &str) -> Vec<String> {
        let folded = tidewatch_text::normalize::fold(s);
        let mut toks = Vec::new();
        self.segmenter.query_tokens(&folded, &mut toks);
        toks.iter().map(|t| t.text.to_string()).collect()
    }

    fn text_query(&self, words: &[String]) -> Option<Box<dyn Query>> {
        if words.is_empty() {
            return None;
        }
        let mut per_field: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, boost) in [(self.fields.title, 2.0f32), (self.fields.text, 1.0)] {
            let q: Box<dyn Query> = if words.len() == 1 {
                Box::new(TermQuery::new(Term::from_field_text(field, &words[0]), IndexRecordOption::WithFreqs))
            } else {
                Box::new(PhraseQuery::new(words.iter().map(|w| Term::from_field_text(field, w)).collect()))
            };
            per_field.push((Occur::Should, Box::new(BoostQuery::new(q, boost))));
        }
        Some(Box::new(BooleanQuery::new(per_field)))
    }

    /// Runs a search. An empty query with filters lists the filtered items.
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults, StoreError> {
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut terms = Vec::new();
        let mut positive = 0;
        for part in parse_query(&req.query) {
            match part {
                QueryPart::Term(t) | QueryPart::Phrase(t) => {
                    let words = self.words(&t);
                    if let Some(q) = self.text_query(&words) {
                        clauses.push((Occur::Must, q));
                        positive += 1;
                        terms.extend(words);
                    }
                }
                QueryPart::Exclude(t) => {
                    if let Some(q) = self.text_query(&self.words(&t)) {
                        clauses.push((Occur::MustNot, q));
                    }
                }
            }
        }
        if !req.query.trim().is_empty() && positive == 0 {
            // Only exclusions or only punctuation: nothing can match.
            return Ok(SearchResults { hits: vec![], total: 0, terms });
        }
        if req.since.is_some() || req.until.is_some() {
            let lo = req.since.map(|t| Bound::Included(Term::from_field_i64(f.published_at, t.timestamp_millis())));
            let hi = req.until.map(|t| Bound::Excluded(Term::from_field_i64(f.published_at, t.timestamp_millis())));
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(lo.unwrap_or(Bound::Unbounded), hi.unwrap_or(Bound::Unbounded))),
            ));
        }
        for (field, values) in [(f.source, &req.sources), (f.topic, &req.topics)] {
            if !values.is_empty() {
                clauses.push((Occur::Must, any_of(field, values)));
            }
        }
        if let Some(lang) = &req.lang {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(Term::from_field_text(f.lang, lang), IndexRecordOption::Basic)),
            ));
        }
        if positive == 0 {
            clauses.push((Occur::Must, Box::new(tantivy::query::AllQuery)));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let limit = req.limit.clamp(1, 10_000);
        let docs: Vec<(f32, DocAddress)> = match req.order {
            SortOrder::Relevance if positive > 0 => {
                searcher.search(&query, &TopDocs::with_limit(limit).and_offset(req.offset)).map_err(tv)?
            }
            _ => searcher
                .search(
                    &query,
                    &TopDocs::with_limit(limit)
                        .and_offset(req.offset)
                        .order_by_fast_field::<i64>("published_at", Order::Desc),
                )
                .map_err(tv)?
                .into_iter()
                .map(|(_, a)| (0.0, a))
                .collect(),
        };
        let total = searcher.search(&query, &Count).map_err(tv)?;
        let mut hits = Vec::with_capacity(docs.len());
        for (score, addr) in docs {
            let col = searcher.segment_reader(addr.segment_ord).fast_fields().i64("item_id").map_err(tv)?;
            if let Some(id) = col.first(addr.doc_id) {
                hits.push(SearchHit { item: ItemId(id), score });
            }
        }
        Ok(SearchResults { hits, total, terms })
    }

    /// The stored item id of a document (used by tests of the stored fields).
    pub fn stored_id(&self, addr: DocAddress) -> Result<Option<i64>, StoreError> {
        let doc: TantivyDocument = self.reader.searcher().doc(addr).map_err(tv)?;
        Ok(doc.get_first(self.fields.item_id).and_then(|v| v.as_i64()))
    }

    /// The tantivy index (for tools).
    pub fn tantivy(&self) -> &Index {
        &self.index
    }
}

fn pre_tokenized(tokens: &[IndexToken]) -> PreTokenizedString {
    PreTokenizedString {
        text: String::new(),
        tokens: tokens
            .iter()
            .map(|t| TvToken {
                offset_from: 0,
                offset_to: 0,
                position: t.position as usize,
                text: t.text.clone(),
                position_length: 1,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_syntax() {
        assert_eq!(
            parse_query(r#"食堂 "food poisoning" -rumour “校方 回应”"#),
            vec![
                QueryPart::Term("食堂".into()),
                QueryPart::Phrase("food poisoning".into()),
                QueryPart::Exclude("rumour".into()),
                QueryPart::Phrase("校方 回应".into()),
            ]
        );
        assert_eq!(parse_query("  \"unclosed phrase"), vec![QueryPart::Phrase("unclosed phrase".into())]);
        assert_eq!(parse_query(" - \"\" "), vec![]);
    }
}
