//! Finding the duplicate group an item belongs to.
//!
//! [`SimHashIndex`] finds every stored fingerprint within Hamming distance `k` of a query without
//! scanning: the 64 bits are cut into `k + 1` blocks, and by the pigeonhole principle two
//! fingerprints that differ in at most `k` bits agree exactly on at least one block. One table per
//! block maps the block's value to the entries that have it; a lookup reads `k + 1` buckets and
//! checks the full distance of what it finds there (the "permuted blocks" method of Manku et al.,
//! *Detecting near-duplicates for web crawling*, WWW 2007, with one table per block).
//!
//! [`Deduper`] combines it with exact lookups (canonical URL, core hash) and remembers which group
//! each fingerprint belongs to. It is pure in-memory state, rebuilt from the store on start.

use crate::fingerprint::{hamming, minhash_similarity, Fingerprint, MinHash, MINHASH_SLOTS, MIN_SIMHASH_UNITS};
use std::collections::HashMap;

/// Default largest Hamming distance between the SimHashes of near-duplicates.
pub const DEFAULT_MAX_DISTANCE: u32 = 3;

/// An index of 64-bit fingerprints answering "all within distance k".
#[derive(Debug)]
pub struct SimHashIndex {
    k: u32,
    block_bits: u32,
    /// `tables[b][value]` lists entry numbers whose block `b` equals `value`.
    tables: Vec<Vec<Vec<u32>>>,
    entries: Vec<(u64, u64)>,
}

impl SimHashIndex {
    /// An empty index for distance at most `k` (0..=15).
    pub fn new(k: u32) -> SimHashIndex {
        let k = k.min(15);
        // At least k + 1 blocks (pigeonhole), and at least 4 so that a block fits a 16-bit table.
        let blocks = (k + 1).max(4);
        let block_bits = 64u32.div_ceil(blocks);
        let size = 1usize << block_bits;
        SimHashIndex {
            k,
            block_bits,
            tables: (0..blocks).map(|_| vec![Vec::new(); size]).collect(),
            entries: Vec::new(),
        }
    }

    /// The distance this index answers for.
    pub fn max_distance(&self) -> u32 {
        self.k
    }

    /// Number of fingerprints held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    fn block(&self, hash: u64, b: usize) -> usize {
        let shift = b as u32 * self.block_bits;
        let width = self.block_bits.min(64 - shift);
        ((hash >> shift) & ((1u64 << width) - 1)) as usize
    }

    /// Adds a fingerprint with a payload (for example a group id).
    pub fn insert(&mut self, hash: u64, payload: u64) {
        let n = u32::try_from(self.entries.len()).expect("fewer than 4 billion fingerprints");
        self.entries.push((hash, payload));
        for b in 0..self.tables.len() {
            let v = self.block(hash, b);
            self.tables[b][v].push(n);
        }
    }

    /// Calls `f(distance, payload)` for every held fingerprint within the index's distance of
    /// `hash`, each once.
    pub fn for_each_near(&self, hash: u64, mut f: impl FnMut(u32, u64)) {
        for b in 0..self.tables.len() {
            let v = self.block(hash, b);
            'entries: for &n in &self.tables[b][v] {
                let (h, payload) = self.entries[n as usize];
                let d = hamming(h, hash);
                if d > self.k {
                    continue;
                }
                // Report each entry once: only from the first block on which it agrees.
                for earlier in 0..b {
                    if self.block(h, earlier) == self.block(hash, earlier) {
                        continue 'entries;
                    }
                }
                f(d, payload);
            }
        }
    }

    /// The payload of the nearest held fingerprint within distance, if any (ties: the earliest
    /// inserted).
    pub fn nearest(&self, hash: u64) -> Option<(u32, u64)> {
        let mut best: Option<(u32, u64)> = None;
        self.for_each_near(hash, |d, p| {
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, p));
            }
        });
        best
    }
}

/// Rows per band of the MinHash index: two texts become candidates when they agree on every
/// slot of one band, with probability `1 - (1 - J²)^8` at Jaccard similarity `J` (0.97 at 0.6,
/// 0.28 at 0.2).
const BAND_ROWS: usize = 2;
const BANDS: usize = MINHASH_SLOTS / BAND_ROWS;
/// At most this many entries are looked at per band bucket (the newest first).
const MAX_CHAIN: usize = 48;
const NO_ENTRY: u32 = u32::MAX;

/// An LSH index of MinHash signatures (banding, Indyk–Motwani; Leskovec et al., *Mining of
/// Massive Datasets*, ch. 3): one table per band maps the band's slots to the newest entry that
/// has them, and each entry links to the previous one in the same bucket.
#[derive(Debug, Default)]
struct MinHashIndex {
    heads: [HashMap<u32, u32>; BANDS],
    /// Per entry: signature, core units, group, and the previous entry of each band's bucket.
    entries: Vec<(MinHash, u32, u64, [u32; BANDS])>,
}

fn band_key(sig: &MinHash, band: usize) -> u32 {
    let rows = &sig[band * BAND_ROWS..(band + 1) * BAND_ROWS];
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15 ^ band as u64;
    for r in rows {
        h = (h ^ u64::from(*r)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    }
    (h >> 32) as u32
}

impl MinHashIndex {
    fn insert(&mut self, sig: &MinHash, units: u32, group: u64) {
        let n = u32::try_from(self.entries.len()).expect("fewer than 4 billion signatures");
        let mut prev = [NO_ENTRY; BANDS];
        for (band, p) in prev.iter_mut().enumerate() {
            if let Some(old) = self.heads[band].insert(band_key(sig, band), n) {
                *p = old;
            }
        }
        self.entries.push((*sig, units, group, prev));
    }

    /// The group of the most similar entry that passes `accept(similarity, its units)`.
    fn best(&self, sig: &MinHash, accept: impl Fn(f64, u32) -> bool) -> Option<(f64, u64)> {
        let mut best: Option<(f64, u64)> = None;
        for band in 0..BANDS {
            let Some(&head) = self.heads[band].get(&band_key(sig, band)) else { continue };
            let mut at = head;
            let mut walked = 0;
            while at != NO_ENTRY && walked < MAX_CHAIN {
                let (other, units, group, prev) = &self.entries[at as usize];
                let sim = minhash_similarity(sig, other);
                if accept(sim, *units) && best.is_none_or(|(b, _)| sim > b) {
                    best = Some((sim, *group));
                }
                at = prev[band];
                walked += 1;
            }
        }
        best
    }
}

/// Two short cores are copies when their bigram sets' estimated Jaccard similarity is at least
/// this…
const MINHASH_MIN_JACCARD: f64 = 0.6;
/// …or when the smaller set is this contained in the larger one (a tag, a remark or a comment
/// added), estimated from the similarity and the two sizes, with the similarity at least
/// [`MINHASH_MIN_JACCARD_CONTAINED`].
const MINHASH_MIN_CONTAINMENT: f64 = 0.85;
const MINHASH_MIN_JACCARD_CONTAINED: f64 = 0.4;
/// A contained text must still be this long against the other: a headline inside its article's
/// first sentence is not a copy of it.
const MINHASH_MIN_LENGTH_RATIO: f64 = 0.5;

/// Whether two cores of `a` and `b` units with estimated bigram Jaccard `j` are copies.
fn minhash_copies(j: f64, a: u32, b: u32) -> bool {
    if j >= MINHASH_MIN_JACCARD {
        return true;
    }
    if j < MINHASH_MIN_JACCARD_CONTAINED {
        return false;
    }
    // |A ∩ B| = J (|A| + |B|) / (1 + J); bigram sets have one element fewer than the units.
    let (a, b) = (f64::from(a.saturating_sub(1)), f64::from(b.saturating_sub(1)));
    if a.min(b) < MINHASH_MIN_LENGTH_RATIO * a.max(b) {
        return false;
    }
    let common = j * (a + b) / (1.0 + j);
    common / a.min(b).max(1.0) >= MINHASH_MIN_CONTAINMENT
}

/// Settings of duplicate detection.
#[derive(Debug, Clone, Copy)]
pub struct DedupConfig {
    /// Largest SimHash distance between near-duplicates.
    pub max_distance: u32,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig { max_distance: DEFAULT_MAX_DISTANCE }
    }
}

/// Why an item was found to duplicate a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DupReason {
    /// Same canonical URL.
    SameUrl,
    /// Same core text (whole text, or the same text under reposting noise).
    SameCore,
    /// SimHash within distance.
    NearText(u32),
    /// A long sentence in common that makes up most of both texts (a comment was added).
    SharedSentence,
    /// Short texts whose word pairs mostly agree (MinHash), or one's contained in the other's.
    SharedPairs,
}

/// A shared sentence must make up at least this share of the new item's core…
const ANCHOR_MIN_SHARE: f64 = 0.5;
/// …and the two cores must be this close in length.
const ANCHOR_MIN_LENGTH_RATIO: f64 = 0.7;

/// In-memory duplicate-group finder. Groups are identified by a caller-chosen `u64`.
#[derive(Debug)]
pub struct Deduper {
    by_url: HashMap<u64, u64>,
    by_core: HashMap<u64, u64>,
    /// Sentence hash → (group, core units of the item it came from).
    by_anchor: HashMap<u64, (u64, u32)>,
    near: SimHashIndex,
    short: MinHashIndex,
}

fn url_key(url: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(url.as_bytes())
}

impl Deduper {
    /// An empty finder.
    pub fn new(config: DedupConfig) -> Deduper {
        Deduper {
            by_url: HashMap::new(),
            by_core: HashMap::new(),
            by_anchor: HashMap::new(),
            near: SimHashIndex::new(config.max_distance),
            short: MinHashIndex::default(),
        }
    }

    /// The group an item with this fingerprint and canonical URL duplicates, if any.
    pub fn find(&self, fp: &Fingerprint, canonical_url: Option<&str>) -> Option<(u64, DupReason)> {
        if let Some(g) = canonical_url.and_then(|u| self.by_url.get(&url_key(u))) {
            return Some((*g, DupReason::SameUrl));
        }
        if fp.core_units > 0 {
            if let Some(g) = self.by_core.get(&fp.core_hash) {
                return Some((*g, DupReason::SameCore));
            }
        }
        if fp.core_units >= MIN_SIMHASH_UNITS {
            if let Some((d, g)) = self.near.nearest(fp.simhash) {
                return Some((g, DupReason::NearText(d)));
            }
            for (hash, units) in fp.anchors {
                if f64::from(units) < ANCHOR_MIN_SHARE * f64::from(fp.core_units) || units < MIN_SIMHASH_UNITS {
                    continue;
                }
                if let Some(&(g, other_units)) = self.by_anchor.get(&hash) {
                    let ratio = f64::from(fp.core_units.min(other_units)) / f64::from(fp.core_units.max(other_units));
                    if ratio >= ANCHOR_MIN_LENGTH_RATIO {
                        return Some((g, DupReason::SharedSentence));
                    }
                }
            }
        }
        if let Some(sig) = &fp.minhash {
            let units = fp.core_units;
            if let Some((_, g)) = self.short.best(sig, |j, other| minhash_copies(j, units, other)) {
                return Some((g, DupReason::SharedPairs));
            }
        }
        None
    }

    /// Records that an item with this fingerprint and URL belongs to `group`. Only the first
    /// group seen for a URL or core is kept.
    pub fn insert(&mut self, fp: &Fingerprint, canonical_url: Option<&str>, group: u64) {
        if let Some(u) = canonical_url {
            self.by_url.entry(url_key(u)).or_insert(group);
        }
        // A core seen before has its signature indexed already (equal cores, equal signatures):
        // reposts cost the MinHash index nothing.
        let mut new_core = true;
        if fp.core_units > 0 {
            match self.by_core.entry(fp.core_hash) {
                std::collections::hash_map::Entry::Occupied(_) => new_core = false,
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(group);
                }
            }
        }
        if fp.core_units >= MIN_SIMHASH_UNITS {
            self.near.insert(fp.simhash, group);
            for (hash, units) in fp.anchors {
                if units >= MIN_SIMHASH_UNITS {
                    self.by_anchor.entry(hash).or_insert((group, fp.core_units));
                }
            }
        }
        if let Some(sig) = fp.minhash.as_ref().filter(|_| new_core) {
            self.short.insert(sig, fp.core_units, group);
        }
    }

    /// Number of fingerprints in the near-duplicate index.
    pub fn len(&self) -> usize {
        self.near.len()
    }

    /// True when nothing was inserted.
    pub fn is_empty(&self) -> bool {
        self.near.is_empty() && self.by_core.is_empty() && self.by_url.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(state: &mut u64) -> u64 {
        *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *state ^ (*state >> 29)
    }

    fn fp(text: &str) -> Fingerprint {
        crate::fingerprint::fingerprint(&crate::normalize::fold(text))
    }

    #[test]
    fn short_copies_with_a_tag_or_a_remark_are_found_and_follow_ups_are_not() {
        let mut d = Deduper::new(DedupConfig::default());
        d.insert(&fp("热水停了三天，没人来修，宿舍楼里一片抱怨。"), None, 1);
        d.insert(&fp("Several students reported vomiting after eating at the north canteen."), None, 2);
        for copy in [
            "#澜江大学# 热水停了三天，没人来修，宿舍楼里一片抱怨",
            "热水停了三天，没人来修，宿舍楼里一片抱怨。大家怎么看？",
            "真的假的 热水停了3天 没人来修 宿舍楼里一片抱怨 https://t.cn/x1",
        ] {
            assert_eq!(d.find(&fp(copy), None).map(|f| f.0), Some(1), "{copy}");
        }
        assert_eq!(
            d.find(&fp("RT: several students reported vomiting after eating at the north canteen #uni"), None)
                .map(|f| f.0),
            Some(2)
        );
        for other in [
            "热水今天已经恢复供应，后勤处向宿舍楼的同学们致歉。",
            "宿舍楼热水停了三天的原因查明：锅炉检修。",
            "The north canteen reopened after an inspection found no fault.",
        ] {
            assert_eq!(d.find(&fp(other), None), None, "{other}");
        }
    }

    #[test]
    fn containment_needs_comparable_lengths() {
        // Copies: a remark on a short text (most pairs shared), a text half as long inside another.
        assert!(minhash_copies(0.68, 14, 20));
        assert!(minhash_copies(0.52, 14, 26));
        assert!(!minhash_copies(0.5, 14, 18));
        // A headline inside its article's long first sentence.
        assert!(!minhash_copies(0.45, 24, 60));
        assert!(minhash_copies(0.65, 24, 60));
        assert!(!minhash_copies(0.3, 20, 20));
    }

    #[test]
    fn index_agrees_with_a_linear_scan() {
        let mut s = 7u64;
        for k in [0u32, 3, 5, 7] {
            let mut idx = SimHashIndex::new(k);
            let mut all = Vec::new();
            for i in 0..3000u64 {
                let base =
                    if i % 3 == 0 || all.is_empty() { lcg(&mut s) } else { all[(lcg(&mut s) as usize) % all.len()] };
                // flip a few bits of an existing hash so that near neighbours exist
                let mut h = base;
                for _ in 0..(lcg(&mut s) % 9) {
                    h ^= 1 << (lcg(&mut s) % 64);
                }
                idx.insert(h, i);
                all.push(h);
            }
            for q in 0..300 {
                let query = all[q * 7] ^ (1 << (q % 64));
                let mut got = Vec::new();
                idx.for_each_near(query, |_, p| got.push(p));
                got.sort();
                let want: Vec<u64> =
                    all.iter().enumerate().filter(|(_, h)| hamming(**h, query) <= k).map(|(i, _)| i as u64).collect();
                assert_eq!(got, want, "k={k} query {q}");
            }
        }
    }
}
