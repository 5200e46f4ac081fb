//! Topic rules: a boolean query language for Chinese and English (see `docs/rules.md`), parsed
//! by [`parse::parse_rule`] and matched by a [`RuleSet`] that compiles every rule together.
//!
//! Matching runs on the matching form of an item's title and text, cut into *tokens*: a Latin
//! word or number, or one CJK character. A term matches a run of consecutive tokens with the same
//! separators as the term (so `食堂` matches inside `学校食堂里` but `cat` does not match
//! `category`); a phrase matches consecutive tokens whatever separates them; `NEAR/n` counts
//! tokens between occurrences.
//!
//! The [`RuleSet`] follows the design of Lucene's monitor: one Aho–Corasick automaton over the
//! literal of every term of every rule finds, in one pass over an item, the candidate rules and
//! the places where their terms may occur; only those are verified and evaluated.
//! [`evaluate_reference`] is the plain tree-walking evaluator the compiled one is tested against.

pub mod parse;

use crate::normalize::{fold, fold_with_map, FoldMap};
use aho_corasick::{AhoCorasick, MatchKind};
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::ops::Range;

pub use parse::{parse_rule, RuleError};

/// Where a leaf applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Title or text (the default).
    Any,
    /// The title only.
    Title,
    /// The text only.
    Text,
    /// The canonical URL's host or any subdomain of it.
    Site,
    /// The source's name.
    Source,
    /// The item's language.
    Lang,
    /// A substring of the canonical URL.
    Url,
}

impl Field {
    /// The name used in rules.
    pub fn name(self) -> &'static str {
        match self {
            Field::Any => "any",
            Field::Title => "title",
            Field::Text => "text",
            Field::Site => "site",
            Field::Source => "source",
            Field::Lang => "lang",
            Field::Url => "url",
        }
    }

    fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "title" => Field::Title,
            "text" => Field::Text,
            "site" => Field::Site,
            "source" => Field::Source,
            "lang" => Field::Lang,
            "url" => Field::Url,
            _ => return None,
        })
    }

    /// True for fields about the item's metadata rather than its words.
    pub fn is_metadata(self) -> bool {
        matches!(self, Field::Site | Field::Source | Field::Lang | Field::Url)
    }
}

/// A term or phrase with its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// Where it applies.
    pub field: Field,
    /// The matching form of the term or phrase (the wildcard's prefix), or the metadata value.
    pub text: String,
    /// A quoted phrase.
    pub phrase: bool,
    /// A suffix wildcard (`protest*`).
    pub wildcard: bool,
    /// Column in the rule where it starts (for messages).
    pub column: usize,
}

/// A parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A term or phrase.
    Leaf(Leaf),
    /// All of them.
    And(Vec<Node>),
    /// Any of them.
    Or(Vec<Node>),
    /// Not this.
    Not(Box<Node>),
    /// Occurrences of `a` and `b` at most `n` tokens apart (`a` first when `ordered`).
    Near {
        /// Left operand.
        a: Box<Node>,
        /// Right operand.
        b: Box<Node>,
        /// Most tokens strictly between.
        n: u32,
        /// `a` must come first.
        ordered: bool,
    },
}

impl Node {
    /// True when every way of matching needs a positive leaf (so candidate selection by the
    /// leaves' literals cannot miss a match).
    pub fn is_positive(&self) -> bool {
        match self {
            Node::Leaf(_) => true,
            Node::Not(_) => false,
            Node::And(v) => v.iter().any(Node::is_positive),
            Node::Or(v) => v.iter().all(Node::is_positive),
            Node::Near { .. } => true,
        }
    }

    fn is_near_operand(&self) -> bool {
        match self {
            Node::Leaf(l) => !l.field.is_metadata(),
            Node::Or(v) => v.iter().all(Node::is_near_operand),
            _ => false,
        }
    }

    fn with_field(self, f: Field) -> Node {
        match self {
            Node::Leaf(mut l) => {
                if l.field == Field::Any {
                    l.field = f;
                    if f.is_metadata() {
                        l.wildcard = false;
                    }
                }
                Node::Leaf(l)
            }
            Node::And(v) => Node::And(v.into_iter().map(|n| n.with_field(f)).collect()),
            Node::Or(v) => Node::Or(v.into_iter().map(|n| n.with_field(f)).collect()),
            Node::Not(n) => Node::Not(Box::new(n.with_field(f))),
            Node::Near { a, b, n, ordered } => {
                Node::Near { a: Box::new(a.with_field(f)), b: Box::new(b.with_field(f)), n, ordered }
            }
        }
    }

    /// Calls `f` on every leaf, in order, with whether it sits under a NOT.
    pub fn for_each_leaf<'a>(&'a self, negated: bool, f: &mut impl FnMut(&'a Leaf, bool)) {
        match self {
            Node::Leaf(l) => f(l, negated),
            Node::And(v) | Node::Or(v) => v.iter().for_each(|n| n.for_each_leaf(negated, f)),
            Node::Not(n) => n.for_each_leaf(!negated, f),
            Node::Near { a, b, .. } => {
                a.for_each_leaf(negated, f);
                b.for_each_leaf(negated, f);
            }
        }
    }
}

/// The item fields rules look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleInput<'a> {
    /// Title (original, as displayed).
    pub title: &'a str,
    /// Text (original, as displayed).
    pub text: &'a str,
    /// Canonical URL.
    pub url: Option<&'a str>,
    /// Source name.
    pub source: &'a str,
    /// Language code.
    pub lang: &'a str,
}

/// One field of an item in matching form. Its tokens and its map back to the original are
/// computed only when a rule needs them (a phrase, a NEAR, or the spans of a match).
struct FieldText<'a> {
    original: &'a str,
    folded: String,
    /// Byte ranges of tokens in `folded`.
    tokens: OnceCell<Vec<(usize, usize)>>,
    map: OnceCell<FoldMap>,
}

fn is_cjk_token_char(c: char) -> bool {
    !c.is_ascii() && c.is_alphanumeric()
}

/// Byte ranges of the tokens of a matching-form string.
fn tokenize(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if c.is_ascii_alphanumeric() {
            let mut end = i + 1;
            while let Some(&(j, d)) = iter.peek() {
                if d.is_ascii_alphanumeric() {
                    end = j + 1;
                    iter.next();
                } else {
                    break;
                }
            }
            out.push((i, end));
        } else if is_cjk_token_char(c) {
            out.push((i, i + c.len_utf8()));
        }
    }
    out
}

impl<'a> FieldText<'a> {
    fn new(original: &'a str) -> FieldText<'a> {
        FieldText { original, folded: fold(original), tokens: OnceCell::new(), map: OnceCell::new() }
    }

    fn tokens(&self) -> &[(usize, usize)] {
        self.tokens.get_or_init(|| tokenize(&self.folded))
    }

    fn map(&self) -> &FoldMap {
        self.map.get_or_init(|| fold_with_map(self.original).1)
    }

    fn tok(&self, i: usize) -> &str {
        let (a, b) = self.tokens()[i];
        &self.folded[a..b]
    }

    fn gap(&self, i: usize) -> &str {
        // Separator between token i-1 and token i.
        let t = self.tokens();
        &self.folded[t[i - 1].1..t[i].0]
    }

    /// The index of the token starting at byte `b`.
    fn token_starting(&self, b: usize) -> Option<usize> {
        self.tokens().binary_search_by(|t| t.0.cmp(&b)).ok()
    }
}

/// How a leaf matches text: its tokens and the separators a term requires between them. Leaves
/// of different rules with the same pattern share one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LeafPattern {
    tokens: Vec<String>,
    gaps: Vec<String>,
    phrase: bool,
    wildcard: bool,
    /// `Any`, `Title` or `Text`.
    field: Field,
    /// The literal the automaton looks for: a term's whole text, a phrase's longest token.
    literal: String,
    /// For phrases: which token the literal is.
    literal_index: usize,
}

impl LeafPattern {
    fn new(leaf: &Leaf) -> LeafPattern {
        let ranges = tokenize(&leaf.text);
        let tokens: Vec<String> = ranges.iter().map(|&(a, b)| leaf.text[a..b].to_string()).collect();
        let gaps = (1..ranges.len()).map(|i| leaf.text[ranges[i - 1].1..ranges[i].0].to_string()).collect();
        // A phrase is found by its longest token (the first of the longest).
        let literal_index = if leaf.phrase {
            tokens.iter().enumerate().max_by_key(|(i, t)| (t.len(), std::cmp::Reverse(*i))).map(|(i, _)| i).unwrap_or(0)
        } else {
            0
        };
        let literal = if leaf.phrase {
            tokens.get(literal_index).cloned().unwrap_or_default()
        } else {
            leaf.text[ranges.first().map(|r| r.0).unwrap_or(0)..ranges.last().map(|r| r.1).unwrap_or(0)].to_string()
        };
        LeafPattern {
            tokens,
            gaps,
            phrase: leaf.phrase,
            wildcard: leaf.wildcard,
            field: leaf.field,
            literal,
            literal_index,
        }
    }

    /// Whether the pattern looks at field `fi` (0 title, 1 text).
    fn applies_to(&self, fi: usize) -> bool {
        !matches!((fi, self.field), (0, Field::Text) | (1, Field::Title))
    }

    /// Whether the pattern occurs at token `i`, comparing token by token; returns the end token
    /// (exclusive). The reference evaluator's test, and the compiled one's for phrases.
    fn check_at(&self, f: &FieldText<'_>, i: usize) -> Option<usize> {
        let n = self.tokens.len();
        if n == 0 || i + n > f.tokens().len() {
            return None;
        }
        for (j, want) in self.tokens.iter().enumerate() {
            let got = f.tok(i + j);
            let last = j + 1 == n;
            let ok = if last && self.wildcard { got.starts_with(want.as_str()) } else { got == want };
            if !ok {
                return None;
            }
            if j > 0 && !self.phrase && f.gap(i + j) != self.gaps[j - 1] {
                return None;
            }
        }
        Some(i + n)
    }

    /// Whether the phrase occurs where the automaton found its literal (the byte range
    /// `at..end` of the folded field), checked token by token around it; returns the
    /// occurrence's byte range.
    fn verify_phrase(&self, f: &FieldText<'_>, at: usize, end: usize) -> Option<(usize, usize)> {
        let tok = f.token_starting(at)?;
        if f.tokens()[tok].1 != end || tok < self.literal_index {
            return None;
        }
        let start = tok - self.literal_index;
        let last = self.check_at(f, start)?;
        let t = f.tokens();
        Some((t[start].0, t[last - 1].1))
    }

    /// The estimated share of items containing the literal: the lower, the better it selects.
    /// Chinese literals use the frequencies of jieba's dictionary (a general corpus, independent
    /// of what is matched); Latin words are taken as rarer the longer they are. Only the speed of
    /// matching depends on it, never its result.
    fn cost(&self) -> f64 {
        /// Tokens in a typical item.
        const TOKENS_PER_ITEM: f64 = 60.0;
        if self.literal.is_ascii() {
            0.05 / 2f64.powi(self.literal.len().saturating_sub(3) as i32)
        } else {
            (crate::Segmenter::shared_default().word_rate(&self.literal) * TOKENS_PER_ITEM).min(1.0)
        }
    }
}

/// Whether a term occurs where the automaton found its literal (bytes `start..end` of `text`,
/// the folded field); returns the occurrence's byte range.
///
/// A term's literal is its whole text, so the bytes already agree and only the two ends must fall
/// on token boundaries: a Latin word may not continue on either side, except after a wildcard's
/// prefix, which takes the rest of the word. No tokenization is needed.
fn verify_term(text: &[u8], start: usize, end: usize, wildcard: bool) -> Option<(usize, usize)> {
    let alnum = |i: usize| text.get(i).is_some_and(u8::is_ascii_alphanumeric);
    if alnum(start) && start > 0 && alnum(start - 1) {
        return None;
    }
    if wildcard {
        let more = text[end..].iter().take_while(|b| b.is_ascii_alphanumeric()).count();
        return Some((start, end + more));
    }
    if alnum(end - 1) && alnum(end) {
        return None;
    }
    Some((start, end))
}

/// What to check when the automaton finds a literal: one per pattern using that literal.
#[derive(Debug, Clone, Copy)]
struct Check {
    pattern: u32,
    field: Field,
    kind: CheckKind,
    /// Some NEAR needs the pattern's occurrences: they are kept even when no spans are asked for.
    positional: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckKind {
    Term,
    Wildcard,
    Phrase,
}

/// Lists stored one after another in one allocation (compressed rows): looking one up costs no
/// pointer chasing, which matters in the loops that run per automaton hit.
#[derive(Debug)]
struct Lists<T> {
    starts: Vec<u32>,
    items: Vec<T>,
}

impl<T> Lists<T> {
    fn new(lists: Vec<Vec<T>>) -> Lists<T> {
        let mut starts = Vec::with_capacity(lists.len() + 1);
        let mut items = Vec::new();
        starts.push(0);
        for l in lists {
            items.extend(l);
            starts.push(items.len() as u32);
        }
        Lists { starts, items }
    }

    fn get(&self, i: usize) -> &[T] {
        &self.items[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// Asks the processor to bring the start of list `i` into the cache, without waiting for it:
    /// a list wanted later in the item is then there when it is read.
    #[inline(always)]
    fn prefetch(&self, i: usize) {
        #[cfg(target_arch = "x86_64")]
        if let Some(first) = self.items.get(self.starts[i] as usize) {
            // SAFETY: SSE is part of every x86_64 target, and a prefetch only hints the cache: it
            // never faults and reads nothing the program sees (the address is in bounds anyway).
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((first as *const T).cast::<i8>())
            };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }
}

/// One occurrence of a leaf: field (0 title, 1 text) and the byte range in the folded field,
/// always on token boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Occ {
    field: u8,
    start: u32,
    end: u32,
}

fn meta_matches(leaf: &Leaf, input: &RuleInput<'_>) -> bool {
    let v = leaf.text.as_str();
    match leaf.field {
        Field::Source => input.source.to_lowercase() == v,
        Field::Lang => input.lang.eq_ignore_ascii_case(v),
        Field::Url => input.url.is_some_and(|u| u.to_lowercase().contains(v)),
        Field::Site => input
            .url
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_lowercase))
            .is_some_and(|h| h == v || h.ends_with(&format!(".{v}"))),
        _ => false,
    }
}

/// Whether occurrences `x` (of NEAR's left operand) and `y` are at most `n` tokens apart, in the
/// same field (`x` first when `ordered`). Occurrences lie on token boundaries, so the tokens
/// between them are counted in the text between them, and no further than `n + 1`: the field
/// is never tokenized whole.
fn near_within(fields: &[FieldText<'_>; 2], x: &Occ, y: &Occ, n: u32, ordered: bool) -> bool {
    if x.field != y.field {
        return false;
    }
    let text = &fields[x.field as usize].folded;
    let within = |a: u32, b: u32| count_tokens(&text[a as usize..b as usize], n as usize) <= n as usize;
    if y.start >= x.end {
        within(x.end, y.start)
    } else {
        !ordered && x.start >= y.end && within(y.end, x.start)
    }
}

/// The number of tokens in `s` (as [`tokenize`] cuts them), counting no further than
/// `limit + 1`.
pub(crate) fn count_tokens(s: &str, limit: usize) -> usize {
    let mut count = 0;
    let mut in_word = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            count += usize::from(!in_word);
            in_word = true;
        } else {
            in_word = false;
            count += usize::from(is_cjk_token_char(c));
        }
        if count > limit {
            break;
        }
    }
    count
}

/// Where a rule matched: field name and character offsets into the original field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// `title` or `text`.
    pub field: &'static str,
    /// Start, in characters.
    pub start: usize,
    /// End, in characters (exclusive).
    pub end: usize,
}

/// What is known about each leaf of one rule on one item, leaves numbered in
/// [`Node::for_each_leaf`] order.
trait LeafState {
    /// Whether the leaf is true.
    fn hit(&self, leaf: usize) -> bool;
    /// Where it occurs (empty for metadata leaves).
    fn occ(&self, leaf: usize) -> &[Occ];
}

fn count_leaves(node: &Node) -> usize {
    match node {
        Node::Leaf(_) => 1,
        Node::And(v) | Node::Or(v) => v.iter().map(count_leaves).sum(),
        Node::Not(n) => count_leaves(n),
        Node::Near { a, b, .. } => count_leaves(a) + count_leaves(b),
    }
}

/// A rule's tree as evaluated: leaves numbered in [`Node::for_each_leaf`] order, NEAR operands
/// as ranges of leaf numbers (the parser allows only terms and OR-groups of terms there).
#[derive(Debug, Clone)]
enum Tree {
    Leaf(usize),
    And(Vec<Tree>),
    Or(Vec<Tree>),
    Not(Box<Tree>),
    Near { a: Range<usize>, b: Range<usize>, n: u32, ordered: bool },
}

impl Tree {
    fn new(node: &Node, next: &mut usize) -> Tree {
        match node {
            Node::Leaf(_) => {
                *next += 1;
                Tree::Leaf(*next - 1)
            }
            Node::And(v) => Tree::And(v.iter().map(|n| Tree::new(n, next)).collect()),
            Node::Or(v) => Tree::Or(v.iter().map(|n| Tree::new(n, next)).collect()),
            Node::Not(n) => Tree::Not(Box::new(Tree::new(n, next))),
            Node::Near { a, b, n, ordered } => {
                let start = *next;
                let mid = start + count_leaves(a);
                let end = mid + count_leaves(b);
                *next = end;
                Tree::Near { a: start..mid, b: mid..end, n: *n, ordered: *ordered }
            }
        }
    }
}

/// Some pair of occurrences of leaves `a` and `b` (ranges of leaf numbers) within NEAR distance;
/// `each` is called on every such pair until it returns false.
fn near_pairs(
    s: &impl LeafState,
    fields: &[FieldText<'_>; 2],
    a: Range<usize>,
    b: Range<usize>,
    n: u32,
    ordered: bool,
    mut each: impl FnMut(&Occ, &Occ) -> bool,
) -> bool {
    let mut any = false;
    for la in a {
        for x in s.occ(la) {
            for lb in b.clone() {
                for y in s.occ(lb) {
                    if near_within(fields, x, y, n, ordered) {
                        any = true;
                        if !each(x, y) {
                            return true;
                        }
                    }
                }
            }
        }
    }
    any
}

/// Evaluates `tree` and records the occurrences that made it true: every true positive leaf
/// under a true AND/OR, every pair within distance under a true NEAR.
fn eval_spans(
    tree: &Tree,
    s: &impl LeafState,
    fields: &[FieldText<'_>; 2],
    fired: &mut Vec<Occ>,
    negated: bool,
) -> bool {
    match tree {
        Tree::Leaf(l) => {
            let hit = s.hit(*l);
            if hit && !negated {
                fired.extend_from_slice(s.occ(*l));
            }
            hit
        }
        Tree::And(v) => {
            let mut local = Vec::new();
            for t in v {
                if !eval_spans(t, s, fields, &mut local, negated) {
                    return false;
                }
            }
            fired.extend(local);
            true
        }
        Tree::Or(v) => {
            let mut any = false;
            for t in v {
                any |= eval_spans(t, s, fields, fired, negated);
            }
            any
        }
        Tree::Not(t) => {
            let mut ignored = Vec::new();
            !eval_spans(t, s, fields, &mut ignored, !negated)
        }
        Tree::Near { a, b, n, ordered } => {
            let mut local = Vec::new();
            let hit = near_pairs(s, fields, a.clone(), b.clone(), *n, *ordered, |x, y| {
                local.push(*x);
                local.push(*y);
                true
            });
            if hit && !negated {
                fired.extend(local);
            }
            hit
        }
    }
}

fn leaves(node: &Node) -> Vec<Leaf> {
    let mut v = Vec::new();
    node.for_each_leaf(false, &mut |l, _| v.push(l.clone()));
    v
}

fn spans(fields: &[FieldText<'_>; 2], fired: &mut [Occ]) -> Vec<Span> {
    fired.sort_unstable();
    let mut out: Vec<Span> = Vec::new();
    let mut last = None;
    for o in fired.iter() {
        if last == Some(*o) {
            continue;
        }
        last = Some(*o);
        let f = &fields[o.field as usize];
        let (oa, ob) = f.map().original_range(o.start as usize, o.end as usize);
        out.push(Span {
            field: if o.field == 0 { "title" } else { "text" },
            start: f.original[..oa].chars().count(),
            end: f.original[..ob].chars().count(),
        });
    }
    out
}

/// Every leaf of one rule checked at every token: the reference evaluator's state.
struct ScannedLeaves {
    hits: Vec<bool>,
    occs: Vec<Vec<Occ>>,
}

impl LeafState for ScannedLeaves {
    fn hit(&self, leaf: usize) -> bool {
        self.hits[leaf]
    }
    fn occ(&self, leaf: usize) -> &[Occ] {
        &self.occs[leaf]
    }
}

/// Matches one rule by checking each leaf at every token (the reference the compiled engine is
/// tested against). Returns the spans when it matches.
pub fn evaluate_reference(node: &Node, input: &RuleInput<'_>) -> Option<Vec<Span>> {
    let fields = [FieldText::new(input.title), FieldText::new(input.text)];
    let mut state = ScannedLeaves { hits: Vec::new(), occs: Vec::new() };
    for leaf in leaves(node) {
        if leaf.field.is_metadata() {
            state.hits.push(meta_matches(&leaf, input));
            state.occs.push(Vec::new());
            continue;
        }
        let p = LeafPattern::new(&leaf);
        let mut v = Vec::new();
        for (fi, f) in fields.iter().enumerate() {
            if !p.applies_to(fi) {
                continue;
            }
            for i in 0..f.tokens().len() {
                if let Some(end) = p.check_at(f, i) {
                    let t = f.tokens();
                    v.push(Occ { field: fi as u8, start: t[i].0 as u32, end: t[end - 1].1 as u32 });
                }
            }
        }
        state.hits.push(!v.is_empty());
        state.occs.push(v);
    }
    let mut fired = Vec::new();
    if eval_spans(&Tree::new(node, &mut 0), &state, &fields, &mut fired, false) {
        Some(spans(&fields, &mut fired))
    } else {
        None
    }
}

/// In an entry's header in [`RuleSet::selects`]: the rule is selected by more than one pattern.
const SHARED: u32 = 1 << 31;

/// A flat term packs its pattern below this bit and its clause from it up.
const CLAUSE_SHIFT: u32 = 26;

/// The pattern of a packed flat term.
const TERM_PATTERN: u32 = (1 << CLAUSE_SHIFT) - 1;

/// Most clauses in a rule's flat part (one bit each of a `u64`; the count takes six bits).
const MAX_CLAUSES: usize = 63;

/// Most terms in a rule's flat part (what the entry header has room for).
const MAX_FLAT_TERMS: usize = (1 << 18) - 1;

/// In [`RuleSet::direct`]: a literal whose [`Check`]s are run.
const NO_DIRECT: u64 = u64::MAX;

/// In [`RuleSet::direct`]: where the field is.
const DIRECT_FIELD_SHIFT: u32 = 27;

/// In [`RuleSet::direct`]: some NEAR needs the occurrences.
const DIRECT_POSITIONAL: u32 = 1 << 29;

/// In [`RuleSet::direct`]: the term starts or ends with a Latin character, so the match must
/// fall on word boundaries ([`verify_term`]).
const DIRECT_ENDS: u32 = 1 << 30;

/// In an entry's header: the rule has a rest to run when its flat part holds.
const HAS_REST: u32 = 1 << 30;

/// A rule's top-level conjunction split in two. The *flat* part is the conjuncts that are a
/// term, an OR of terms, or NOT of either (`食堂 (腹泻 OR 呕吐) NOT 演习`): each is a clause
/// decided by whether any of its patterns occurred, all of them together without a branch. The
/// rest (NEAR, metadata, deeper nesting) is a program run only when the flat part holds.
#[derive(Default)]
struct Flat {
    positive: Vec<Vec<u32>>,
    negative: Vec<Vec<u32>>,
    rest: Vec<Tree>,
}

impl Flat {
    fn new(tree: &Tree, rule: &CompiledRule) -> Flat {
        let mut flat = Flat::default();
        flat.split(tree, rule);
        flat
    }

    fn split(&mut self, tree: &Tree, rule: &CompiledRule) {
        if let Tree::And(v) = tree {
            v.iter().for_each(|t| self.split(t, rule));
            return;
        }
        let (negated, inner) = match tree {
            Tree::Not(t) => (true, &**t),
            t => (false, t),
        };
        let mut group = Vec::new();
        let clauses = self.positive.len() + self.negative.len();
        let terms: usize = self.positive.iter().chain(&self.negative).map(Vec::len).sum();
        if pattern_group(inner, rule, &mut group) && clauses < MAX_CLAUSES && terms + group.len() <= MAX_FLAT_TERMS {
            if negated { &mut self.negative } else { &mut self.positive }.push(group);
        } else {
            self.rest.push(tree.clone());
        }
    }

    /// The packed terms: positive clauses numbered first, then negative ones.
    fn terms(&self) -> Vec<Op> {
        let clauses = self.positive.iter().chain(&self.negative);
        clauses.enumerate().flat_map(|(c, ps)| ps.iter().map(move |&p| Op(p | (c as u32) << CLAUSE_SHIFT))).collect()
    }
}

/// Collects the patterns of a term or an OR of terms; false for anything else.
fn pattern_group(tree: &Tree, rule: &CompiledRule, out: &mut Vec<u32>) -> bool {
    match tree {
        Tree::Leaf(l) if rule.patterns[*l] != NO_PATTERN => {
            out.push(rule.patterns[*l]);
            true
        }
        Tree::Or(v) => v.iter().all(|t| pattern_group(t, rule, out)),
        _ => false,
    }
}

/// Marks the patterns of every NEAR operand in `tree`.
fn mark_near_operands(tree: &Tree, rule: &CompiledRule, positional: &mut [bool]) {
    match tree {
        Tree::Leaf(_) => {}
        Tree::And(v) | Tree::Or(v) => v.iter().for_each(|t| mark_near_operands(t, rule, positional)),
        Tree::Not(t) => mark_near_operands(t, rule, positional),
        Tree::Near { a, b, .. } => {
            for l in a.clone().chain(b.clone()) {
                if let Some(flag) = positional.get_mut(rule.patterns[l] as usize) {
                    *flag = true;
                }
            }
        }
    }
}

/// Marks a metadata leaf in [`CompiledRule::patterns`].
const NO_PATTERN: u32 = u32::MAX;

struct CompiledRule {
    tree: Tree,
    leaves: Vec<Leaf>,
    /// The shared pattern of each leaf ([`NO_PATTERN`] for metadata leaves).
    patterns: Vec<u32>,
}

/// One instruction of a rule's program, packed in a word: an opcode in the top three bits, an
/// operand below. Programs evaluate with short circuits into one boolean register: an AND stops
/// at its first false child, an OR at its first true one, and [`compile_ops`] orders children so
/// that the child most likely to decide comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Op(u32);

impl Op {
    const OPERAND: u32 = (1 << 29) - 1;
    /// Whether pattern `operand` occurs in the item.
    const PATTERN: u32 = 0;
    /// Whether metadata leaf `operand` ([`RuleSet::metas`]) holds.
    const META: u32 = 1;
    /// Negate the register.
    const NOT: u32 = 2;
    /// Whether two operands occur near each other: the distance `n` in the operand's low bits,
    /// [`Op::NEAR_ORDERED`] above; the next word holds the operands' pattern counts (`a` in
    /// the low 16 bits, `b` above), and their patterns follow. The program needs nothing
    /// outside itself.
    const NEAR: u32 = 3;
    /// Go to instruction `operand` if the register is false.
    const JUMP_IF_FALSE: u32 = 4;
    /// Go to instruction `operand` if the register is true.
    const JUMP_IF_TRUE: u32 = 5;
    /// [`Op::PATTERN`] then [`Op::JUMP_IF_FALSE`] in one: the next word is the pattern, the
    /// operand the target. The commonest pair (a term under an AND).
    const PATTERN_JUMP_IF_FALSE: u32 = 6;
    /// [`Op::PATTERN`] then [`Op::JUMP_IF_TRUE`] in one (a term under an OR).
    const PATTERN_JUMP_IF_TRUE: u32 = 7;

    /// In a [`Op::NEAR`] operand: the left operand must come first.
    const NEAR_ORDERED: usize = 1 << 16;

    fn new(code: u32, operand: usize) -> Op {
        assert!(operand as u64 <= Op::OPERAND as u64, "rule set too large");
        Op(code << 29 | operand as u32)
    }
    fn code(self) -> u32 {
        self.0 >> 29
    }
    fn operand(self) -> usize {
        (self.0 & Op::OPERAND) as usize
    }
}

/// Compiles `tree` to a program (see [`Op`]). AND children likely to be false come first — the
/// rarest terms, then negations and metadata, and last the child with the most selective terms
/// (the likeliest to hold); OR children likely to be true come first. Only a rule's rest (see
/// [`Flat`]) is compiled: its flat part has been decided by then. Metadata leaves are appended
/// to `metas`, which [`Op::META`] indexes.
fn compile_ops(tree: &Tree, rule: &CompiledRule, costs: &[f64], ops: &mut Vec<Op>, metas: &mut Vec<Leaf>) {
    match tree {
        Tree::Leaf(l) => ops.push(match rule.patterns[*l] {
            NO_PATTERN => {
                metas.push(rule.leaves[*l].clone());
                Op::new(Op::META, metas.len() - 1)
            }
            p => Op::new(Op::PATTERN, p as usize),
        }),
        Tree::Not(t) => {
            compile_ops(t, rule, costs, ops, metas);
            ops.push(Op::new(Op::NOT, 0));
        }
        Tree::Near { a, b, n, ordered } => {
            // Metadata leaves have no occurrences: they cannot make a NEAR hold.
            let operand = |r: &Range<usize>| -> Vec<Op> {
                r.clone().map(|l| rule.patterns[l]).filter(|&p| p != NO_PATTERN).map(Op).collect()
            };
            let (a, b) = (operand(a), operand(b));
            assert!(a.len() < 1 << 16 && b.len() < 1 << 16, "NEAR operand too large");
            ops.push(Op::new(Op::NEAR, *n as usize | if *ordered { Op::NEAR_ORDERED } else { 0 }));
            ops.push(Op((a.len() | b.len() << 16) as u32));
            ops.extend(a);
            ops.extend(b);
        }
        Tree::And(v) | Tree::Or(v) => {
            let and = matches!(tree, Tree::And(_));
            let child_costs: Vec<Option<f64>> = v.iter().map(|t| selectors(t, rule, costs).map(|s| s.1)).collect();
            let selector = if and {
                (0..v.len())
                    .filter(|&i| child_costs[i].is_some())
                    .min_by(|&i, &j| child_costs[i].unwrap().total_cmp(&child_costs[j].unwrap()))
            } else {
                None
            };
            let mut order: Vec<usize> = (0..v.len()).collect();
            order.sort_by(|&i, &j| {
                let key = |k: usize| -> (u8, f64) {
                    match (Some(k) == selector, child_costs[k]) {
                        (true, _) => (2, 0.0),
                        (false, Some(c)) => (0, if and { c } else { -c }),
                        (false, None) => (1, 0.0),
                    }
                };
                let (a, b) = (key(i), key(j));
                a.0.cmp(&b.0).then(a.1.total_cmp(&b.1))
            });
            let mut jumps = Vec::new();
            for (n, &i) in order.iter().enumerate() {
                let before = ops.len();
                compile_ops(&v[i], rule, costs, ops, metas);
                if n + 1 < order.len() {
                    let fused = ops.len() == before + 1 && ops[before].code() == Op::PATTERN;
                    if fused {
                        // A lone term: test and jump in one instruction.
                        let pattern = ops.pop().expect("just pushed").operand();
                        let code = if and { Op::PATTERN_JUMP_IF_FALSE } else { Op::PATTERN_JUMP_IF_TRUE };
                        jumps.push((ops.len(), code));
                        ops.push(Op(0));
                        ops.push(Op(pattern as u32));
                    } else {
                        jumps.push((ops.len(), if and { Op::JUMP_IF_FALSE } else { Op::JUMP_IF_TRUE }));
                        ops.push(Op(0));
                    }
                }
            }
            let end = ops.len();
            for (j, code) in jumps {
                ops[j] = Op::new(code, end);
            }
        }
    }
}

/// Runs a program (see [`Op`]) on an item: the patterns that occurred in it, where, and the
/// item itself.
fn run_ops(ops: &[Op], item: &mut ItemState<'_, '_>) -> bool {
    let mut value = false;
    let mut pc = 0;
    while let Some(&op) = ops.get(pc) {
        pc += 1;
        match op.code() {
            Op::PATTERN => value = item.seen.get(op.operand()),
            Op::META => value = meta_matches(&item.metas[op.operand()], item.input),
            Op::NOT => value = !value,
            Op::NEAR => {
                let counts = ops[pc].0 as usize;
                let (a, b) = ops[pc + 1..].split_at(counts & 0xffff);
                pc += 1 + (counts & 0xffff) + (counts >> 16);
                let (n, ordered) = (op.operand() & 0xffff, op.operand() & Op::NEAR_ORDERED != 0);
                value = item.near(a, &b[..counts >> 16], n as u32, ordered);
            }
            Op::JUMP_IF_FALSE if !value => pc = op.operand(),
            Op::JUMP_IF_TRUE if value => pc = op.operand(),
            Op::PATTERN_JUMP_IF_FALSE | Op::PATTERN_JUMP_IF_TRUE => {
                value = item.seen.get(ops[pc].0 as usize);
                pc += 1;
                if value == (op.code() == Op::PATTERN_JUMP_IF_TRUE) {
                    pc = op.operand();
                }
            }
            _ => {}
        }
    }
    value
}

/// A set of small numbers, one bit each: the sets of patterns found and rules evaluated in an
/// item stay small enough for the first-level cache, where the per-candidate tests load them.
#[derive(Default)]
struct Bits(Vec<u64>);

impl Bits {
    /// Makes room for `0..n`.
    fn ensure(&mut self, n: usize) {
        if self.0.len() < n.div_ceil(64) {
            self.0.resize(n.div_ceil(64), 0);
        }
    }

    #[inline(always)]
    fn get(&self, i: usize) -> bool {
        self.0[i >> 6] >> (i & 63) & 1 != 0
    }

    /// Adds `i`; returns whether it was new.
    #[inline(always)]
    fn insert(&mut self, i: usize) -> bool {
        let (word, bit) = (&mut self.0[i >> 6], 1u64 << (i & 63));
        let new = *word & bit == 0;
        *word |= bit;
        new
    }

    /// Empties the set, given every number in it.
    fn clear(&mut self, members: &[u32]) {
        for &i in members {
            self.0[i as usize >> 6] = 0;
        }
    }
}

/// Per-thread working memory of [`RuleSet::matches`]: the patterns found in the item and where,
/// and the rules evaluated. Each set is emptied at the start of the next item by its list.
#[derive(Default)]
struct Scratch {
    /// The patterns in `found`.
    seen: Bits,
    /// The rules in `evaluated_list`.
    evaluated: Bits,
    evaluated_list: Vec<u32>,
    found: Vec<u32>,
    matched: Vec<u32>,
    positions: Positions,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// The verified occurrences of one item: those of NEAR operands always, every pattern's when
/// spans are asked for.
#[derive(Default)]
struct Positions {
    /// In the order found.
    hits: Vec<(u32, Occ)>,
    /// The same sorted by pattern, as parallel lists, made when an occurrence is first asked
    /// for (NEAR, spans) and kept for the rest of the item.
    pids: Vec<u32>,
    occs: Vec<Occ>,
    sorted: bool,
}

impl Positions {
    fn clear(&mut self) {
        self.hits.clear();
        self.sorted = false;
    }

    fn by_pattern(&mut self) -> (&[u32], &[Occ]) {
        if !self.sorted {
            self.hits.sort_unstable();
            self.hits.dedup();
            self.pids.clear();
            self.occs.clear();
            for &(p, o) in &self.hits {
                self.pids.push(p);
                self.occs.push(o);
            }
            self.sorted = true;
        }
        (&self.pids, &self.occs)
    }
}

/// The occurrences of pattern `p` in lists made by [`Positions::by_pattern`].
fn occurrences<'o>(pids: &[u32], occs: &'o [Occ], p: u32) -> &'o [Occ] {
    let lo = pids.partition_point(|&q| q < p);
    let hi = lo + pids[lo..].partition_point(|&q| q == p);
    &occs[lo..hi]
}

/// One item as programs ([`run_ops`]) see it.
struct ItemState<'s, 'a> {
    fields: &'s [FieldText<'a>; 2],
    input: &'s RuleInput<'a>,
    metas: &'s [Leaf],
    /// The patterns that occurred ([`Scratch::seen`]).
    seen: &'s Bits,
    positions: &'s mut Positions,
}

impl ItemState<'_, '_> {
    /// Whether some occurrence of a pattern of `a` and some of `b` are within NEAR distance.
    fn near(&mut self, a: &[Op], b: &[Op], n: u32, ordered: bool) -> bool {
        let seen = |p: &&Op| self.seen.get(p.0 as usize);
        if !a.iter().any(|p| seen(&p)) || !b.iter().any(|p| seen(&p)) {
            return false;
        }
        let (pids, occs) = self.positions.by_pattern();
        a.iter().flat_map(|pa| occurrences(pids, occs, pa.0)).any(|x| {
            b.iter().flat_map(|pb| occurrences(pids, occs, pb.0)).any(|y| near_within(self.fields, x, y, n, ordered))
        })
    }
}

/// The verified pattern hits of one item seen through one rule (for the spans of a match).
struct RuleView<'a> {
    rule: &'a CompiledRule,
    /// The patterns that occurred ([`Scratch::seen`]).
    seen: &'a Bits,
    /// Occurrences sorted by pattern ([`Positions::by_pattern`]).
    pids: &'a [u32],
    occs: &'a [Occ],
    input: &'a RuleInput<'a>,
}

impl LeafState for RuleView<'_> {
    fn hit(&self, leaf: usize) -> bool {
        let p = self.rule.patterns[leaf];
        if p == NO_PATTERN {
            return meta_matches(&self.rule.leaves[leaf], self.input);
        }
        self.seen.get(p as usize)
    }
    fn occ(&self, leaf: usize) -> &[Occ] {
        let p = self.rule.patterns[leaf];
        if p == NO_PATTERN || !self.seen.get(p as usize) {
            return &[];
        }
        occurrences(self.pids, self.occs, p)
    }
}

/// A rule that fired on an item, with the spans that made it fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    /// Index of the rule in the set.
    pub rule: usize,
    /// Where it matched.
    pub spans: Vec<Span>,
}

/// Every rule compiled together.
///
/// Leaves with the same pattern share it; each pattern is verified once per automaton hit.
/// Each rule is *selected* by a set of patterns at least one of which occurs in every item it
/// matches (for AND, the rarest-looking child's set; for OR, the union of its children's); only
/// selected rules are evaluated.
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    patterns: Vec<LeafPattern>,
    automaton: Option<AhoCorasick>,
    /// For each automaton literal: the patterns found by it.
    literal_checks: Lists<Check>,
    /// For each automaton literal that finds only terms, one or two (the literal is their whole
    /// text, so the match is the occurrence once the word boundaries hold; two when the same
    /// word is also asked for in one field, `title:食堂`): each term in a half, its pattern, its
    /// field at [`DIRECT_FIELD_SHIFT`] (0 any, 1 title, 2 text), [`DIRECT_POSITIONAL`] and
    /// [`DIRECT_ENDS`], the high half [`NO_PATTERN`] when there is one term; [`NO_DIRECT`] for
    /// every other literal, whose [`Check`]s are run.
    direct: Vec<u64>,
    /// For each pattern: the rules it selects, each an entry of words: the rule's index; a
    /// header ([`SHARED`] when other patterns select it too, [`HAS_REST`], its number of
    /// positive clauses at bit 24, its number of flat terms below); with
    /// [`HAS_REST`], where its rest's program is in `rests`; the flat terms (see [`Flat`]). An
    /// entry is copied under every pattern that selects its rule so that the candidates of a hit
    /// are tested from one contiguous run of memory; the rest of a rule is fetched only when its
    /// flat part holds.
    selects: Lists<Op>,
    /// The entries (as in `selects`) of the rules no pattern can select (their positive part is
    /// only metadata): always evaluated.
    always: Vec<Op>,
    /// The programs of the rules' rests, each its length then its instructions (see [`Op`]):
    /// self-contained, so that running one touches nothing of the rule but these words.
    rests: Vec<Op>,
    /// The metadata leaves of the rests ([`Op::META`]).
    metas: Vec<Leaf>,
    /// See [`RuleSet::learned_from`].
    learned_from: usize,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field("patterns", &self.patterns.len())
            .field("literals", &self.literal_checks.len())
            .finish()
    }
}

/// Fewest items [`RuleSet::tuned`] learns rarity from.
pub const MIN_RARITY_SAMPLE: usize = 200;

/// For each literal of `automaton`, the share of `sample`'s items it occurs in (title or text),
/// smoothed so that a literal never seen is rare but not free.
fn literal_rarity(automaton: &AhoCorasick, literals: usize, sample: &[RuleInput<'_>]) -> Vec<f64> {
    let mut items_with = vec![0u32; literals];
    let mut last_item = vec![usize::MAX; literals];
    for (i, input) in sample.iter().enumerate() {
        for field in [input.title, input.text] {
            for m in automaton.find_overlapping_iter(&fold(field)) {
                let l = m.pattern().as_usize();
                if last_item[l] != i {
                    last_item[l] = i;
                    items_with[l] += 1;
                }
            }
        }
    }
    let n = sample.len() as f64;
    items_with.iter().map(|&k| (f64::from(k) + 0.5) / (n + 1.0)).collect()
}

/// The patterns that select a rule: at least one of them occurs whenever `tree` is true, or
/// `None` when no such set exists. Also returns the set's cost (lower is more selective).
fn selectors(tree: &Tree, rule: &CompiledRule, costs: &[f64]) -> Option<(Vec<u32>, f64)> {
    let union = |leaves: Range<usize>| -> Option<(Vec<u32>, f64)> {
        let ps: Vec<u32> = leaves.map(|l| rule.patterns[l]).collect();
        if ps.contains(&NO_PATTERN) {
            return None;
        }
        let cost = ps.iter().map(|&p| costs[p as usize]).sum();
        Some((ps, cost))
    };
    match tree {
        Tree::Leaf(l) => union(*l..*l + 1),
        Tree::And(v) => v.iter().filter_map(|t| selectors(t, rule, costs)).min_by(|x, y| x.1.total_cmp(&y.1)),
        Tree::Or(v) => {
            let mut all = (Vec::new(), 0.0);
            for t in v {
                let (ps, cost) = selectors(t, rule, costs)?;
                all.0.extend(ps);
                all.1 += cost;
            }
            Some(all)
        }
        Tree::Not(_) => None,
        Tree::Near { a, b, .. } => {
            [union(a.clone()), union(b.clone())].into_iter().flatten().min_by(|x, y| x.1.total_cmp(&y.1))
        }
    }
}

impl RuleSet {
    /// Compiles parsed rules (indexes in the result refer to positions in `rules`). Which
    /// patterns select a rule is decided by how rare they look in general text (see
    /// [`RuleSet::tuned`] for rarity learned from the organization's own items).
    pub fn new(rules: Vec<Node>) -> RuleSet {
        RuleSet::build(rules, &[])
    }

    /// Compiles parsed rules like [`RuleSet::new`], but each rule is selected by the patterns that
    /// are rarest in `sample` — recent items of the same stream — rather than by estimates from
    /// a general dictionary: fewer rules are then looked at per item. Results are the same
    /// either way; only speed depends on the sample. With fewer than [`MIN_RARITY_SAMPLE`]
    /// items, the estimates are used.
    pub fn tuned(rules: Vec<Node>, sample: &[RuleInput<'_>]) -> RuleSet {
        RuleSet::build(rules, sample)
    }

    fn build(rules: Vec<Node>, sample: &[RuleInput<'_>]) -> RuleSet {
        let mut pattern_ids: HashMap<LeafPattern, u32> = HashMap::new();
        let mut patterns: Vec<LeafPattern> = Vec::new();
        let mut compiled = Vec::with_capacity(rules.len());
        for node in rules {
            let leaves = leaves(&node);
            let ids: Vec<u32> = leaves
                .iter()
                .map(|leaf| {
                    let p = LeafPattern::new(leaf);
                    if leaf.field.is_metadata() || p.literal.is_empty() {
                        return NO_PATTERN;
                    }
                    *pattern_ids.entry(p.clone()).or_insert_with(|| {
                        patterns.push(p);
                        (patterns.len() - 1) as u32
                    })
                })
                .collect();
            let tree = Tree::new(&node, &mut 0);
            compiled.push(CompiledRule { tree, leaves, patterns: ids });
        }
        assert!(patterns.len() <= TERM_PATTERN as usize, "rule set too large");
        let mut positional = vec![false; patterns.len()];
        for rule in &compiled {
            mark_near_operands(&rule.tree, rule, &mut positional);
        }
        let mut literal_ids: HashMap<&str, usize> = HashMap::new();
        let mut literals: Vec<&str> = Vec::new();
        let mut literal_checks: Vec<Vec<Check>> = Vec::new();
        let mut pattern_literal = Vec::with_capacity(patterns.len());
        for (pi, p) in patterns.iter().enumerate() {
            let id = *literal_ids.entry(p.literal.as_str()).or_insert_with(|| {
                literals.push(p.literal.as_str());
                literal_checks.push(Vec::new());
                literals.len() - 1
            });
            let kind = match (p.phrase, p.wildcard) {
                (true, _) => CheckKind::Phrase,
                (false, true) => CheckKind::Wildcard,
                (false, false) => CheckKind::Term,
            };
            literal_checks[id].push(Check { pattern: pi as u32, field: p.field, kind, positional: positional[pi] });
            pattern_literal.push(id);
        }
        let automaton = (!literals.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&literals)
                .expect("literals are plain strings within automaton limits")
        });
        let (costs, learned_from): (Vec<f64>, usize) = match (&automaton, sample.len() >= MIN_RARITY_SAMPLE) {
            (Some(ac), true) => {
                let rarity = literal_rarity(ac, literals.len(), sample);
                (pattern_literal.iter().map(|&l| rarity[l]).collect(), sample.len())
            }
            _ => (patterns.iter().map(LeafPattern::cost).collect(), 0),
        };
        // Each rule's entry without its index and SHARED: header, rest's place, flat terms.
        let mut flat = Vec::with_capacity(compiled.len());
        let (mut rests, mut metas) = (Vec::new(), Vec::new());
        for rule in &compiled {
            let split = Flat::new(&rule.tree, rule);
            let mut rest = Vec::new();
            match split.rest.as_slice() {
                [] => {}
                [one] => compile_ops(one, rule, &costs, &mut rest, &mut metas),
                more => compile_ops(&Tree::And(more.to_vec()), rule, &costs, &mut rest, &mut metas),
            }
            let terms = split.terms();
            let header =
                if rest.is_empty() { 0 } else { HAS_REST } | (split.positive.len() as u32) << 24 | terms.len() as u32;
            let mut entry = vec![Op(header)];
            if !rest.is_empty() {
                entry.push(Op(rests.len() as u32));
                rests.push(Op(rest.len() as u32));
                rests.extend(rest);
            }
            entry.extend(terms);
            flat.push(entry);
        }

        let mut selects = vec![Vec::new(); patterns.len()];
        let mut always = Vec::new();
        for (ri, rule) in compiled.iter().enumerate() {
            match selectors(&rule.tree, rule, &costs) {
                Some((mut ps, _)) => {
                    ps.sort_unstable();
                    ps.dedup();
                    // A rule selected by one pattern is reached once per item: no need to check
                    // whether it was already evaluated.
                    let shared = if ps.len() > 1 { SHARED } else { 0 };
                    for p in ps {
                        let entries = &mut selects[p as usize];
                        entries.extend([Op(ri as u32), Op(flat[ri][0].0 | shared)]);
                        entries.extend_from_slice(&flat[ri][1..]);
                    }
                }
                None => {
                    always.push(Op(ri as u32));
                    always.extend_from_slice(&flat[ri]);
                }
            }
        }
        let direct = literal_checks
            .iter()
            .zip(&literals)
            .map(|(checks, literal)| {
                let ends = literal.starts_with(|ch: char| ch.is_ascii()) || literal.ends_with(|ch: char| ch.is_ascii());
                let word = |c: &Check| {
                    let field = match c.field {
                        Field::Title => 1,
                        Field::Text => 2,
                        _ => 0,
                    };
                    c.pattern
                        | field << DIRECT_FIELD_SHIFT
                        | if c.positional { DIRECT_POSITIONAL } else { 0 }
                        | if ends { DIRECT_ENDS } else { 0 }
                };
                match checks.as_slice() {
                    [c] if c.kind == CheckKind::Term => u64::from(NO_PATTERN) << 32 | u64::from(word(c)),
                    [c, d] if c.kind == CheckKind::Term && d.kind == CheckKind::Term => {
                        u64::from(word(d)) << 32 | u64::from(word(c))
                    }
                    _ => NO_DIRECT,
                }
            })
            .collect();
        RuleSet {
            rules: compiled,
            patterns,
            automaton,
            direct,
            literal_checks: Lists::new(literal_checks),
            selects: Lists::new(selects),
            always,
            rests,
            metas,
            learned_from,
        }
    }

    /// How many items the rarity of terms was learned from ([`RuleSet::tuned`]); 0 when it was
    /// estimated.
    pub fn learned_from(&self) -> usize {
        self.learned_from
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every rule that matches the item, in rule order, with its spans.
    pub fn matches(&self, input: &RuleInput<'_>) -> Vec<RuleMatch> {
        let fields = [FieldText::new(input.title), FieldText::new(input.text)];
        SCRATCH.with_borrow_mut(|scratch| {
            self.evaluate(scratch, &fields, input, true);
            let (pids, occs) = scratch.positions.by_pattern();
            let seen = &scratch.seen;
            let mut fired = Vec::new();
            scratch
                .matched
                .iter()
                .map(|&ri| {
                    let rule = &self.rules[ri as usize];
                    let view = RuleView { rule, seen, pids, occs, input };
                    fired.clear();
                    eval_spans(&rule.tree, &view, &fields, &mut fired, false);
                    RuleMatch { rule: ri as usize, spans: spans(&fields, &mut fired) }
                })
                .collect()
        })
    }

    /// Every rule that matches the item, in rule order, without spans: what the pipeline
    /// records for each item.
    pub fn matching(&self, input: &RuleInput<'_>) -> Vec<usize> {
        let fields = [FieldText::new(input.title), FieldText::new(input.text)];
        SCRATCH.with_borrow_mut(|scratch| {
            self.evaluate(scratch, &fields, input, false);
            scratch.matched.iter().map(|&ri| ri as usize).collect()
        })
    }

    /// Finds the candidate rules and leaves the ones that match in `scratch.matched`, in rule
    /// order. Occurrences are kept for spans only when `spans` is set (NEAR's are always kept).
    fn evaluate(&self, scratch: &mut Scratch, fields: &[FieldText<'_>; 2], input: &RuleInput<'_>, spans: bool) {
        let Scratch { seen, evaluated, evaluated_list, found, matched, positions } = scratch;
        seen.clear(found);
        evaluated.clear(evaluated_list);
        seen.ensure(self.patterns.len());
        evaluated.ensure(self.rules.len());
        found.clear();
        evaluated_list.clear();
        matched.clear();
        positions.clear();
        // An occurrence of a pattern: kept when spans or a NEAR need it; the pattern's candidate
        // list fetched into the cache the first time it is found.
        let mut record = |pattern: u32, occ: Occ, keep: bool| {
            if spans || keep {
                positions.hits.push((pattern, occ));
            }
            if seen.insert(pattern as usize) {
                found.push(pattern);
                self.selects.prefetch(pattern as usize);
            }
        };
        if let Some(ac) = &self.automaton {
            for (fi, f) in fields.iter().enumerate().filter(|(_, f)| !f.folded.is_empty()) {
                for m in ac.find_overlapping_iter(&f.folded) {
                    // The common case in one load: a literal that is the whole text of its terms.
                    let direct = self.direct[m.pattern().as_usize()];
                    if direct != NO_DIRECT {
                        if direct as u32 & DIRECT_ENDS != 0
                            && verify_term(f.folded.as_bytes(), m.start(), m.end(), false).is_none()
                        {
                            continue;
                        }
                        for term in [direct as u32, (direct >> 32) as u32] {
                            if term == NO_PATTERN {
                                break;
                            }
                            let (pattern, field) = (term & TERM_PATTERN, (term >> DIRECT_FIELD_SHIFT) & 3);
                            if field != 0 && field != fi as u32 + 1 {
                                continue;
                            }
                            let occ = Occ { field: fi as u8, start: m.start() as u32, end: m.end() as u32 };
                            record(pattern, occ, term & DIRECT_POSITIONAL != 0);
                        }
                        continue;
                    }
                    for c in self.literal_checks.get(m.pattern().as_usize()) {
                        if matches!((fi, c.field), (0, Field::Text) | (1, Field::Title)) {
                            continue;
                        }
                        let at = match c.kind {
                            CheckKind::Phrase => self.patterns[c.pattern as usize].verify_phrase(f, m.start(), m.end()),
                            kind => verify_term(f.folded.as_bytes(), m.start(), m.end(), kind == CheckKind::Wildcard),
                        };
                        if let Some((start, end)) = at {
                            record(
                                c.pattern,
                                Occ { field: fi as u8, start: start as u32, end: end as u32 },
                                c.positional,
                            );
                        }
                    }
                }
            }
        }
        let mut item = ItemState { fields, input, metas: &self.metas, seen, positions };
        let lists = std::iter::once(self.always.as_slice()).chain(found.iter().map(|&p| self.selects.get(p as usize)));
        for entries in lists {
            let mut at = 0;
            while at < entries.len() {
                let ri = entries[at].0 as usize;
                let header = entries[at + 1].0;
                let n_terms = (header & MAX_FLAT_TERMS as u32) as usize;
                let has_rest = header & HAS_REST != 0;
                let body = at + 2 + usize::from(has_rest);
                let terms = &entries[body..body + n_terms];
                let rest_at = at + 2;
                at = body + n_terms;
                if header & SHARED != 0 {
                    if !evaluated.insert(ri) {
                        continue;
                    }
                    evaluated_list.push(ri as u32);
                }
                // Every clause of the flat part at once, without a branch per term: terms set only
                // their clauses' bits, so it holds when exactly the positive clauses' bits are set.
                let mut sat = 0u64;
                for t in terms {
                    sat |= u64::from(item.seen.get((t.0 & TERM_PATTERN) as usize)) << (t.0 >> CLAUSE_SHIFT);
                }
                if sat != (1u64 << (header >> 24 & 0x3f)) - 1 {
                    continue;
                }
                if has_rest {
                    let program = entries[rest_at].0 as usize;
                    let len = self.rests[program].0 as usize;
                    if !run_ops(&self.rests[program + 1..program + 1 + len], &mut item) {
                        continue;
                    }
                }
                matched.push(ri as u32);
            }
        }
        matched.sort_unstable();
    }

    /// The literals of every term (for the bare-scan baseline of the benchmark).
    pub fn literals(&self) -> Vec<String> {
        let mut v: Vec<String> = self.patterns.iter().map(|p| p.literal.clone()).collect();
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item<'a>(title: &'a str, text: &'a str) -> RuleInput<'a> {
        RuleInput { title, text, url: Some("https://m.weibo.com/1/2"), source: "weibo", lang: "zh" }
    }

    fn check(rule: &str, title: &str, text: &str) -> bool {
        let node = parse_rule(rule).unwrap_or_else(|e| panic!("{rule}: {e}"));
        let input = item(title, text);
        let reference = evaluate_reference(&node, &input);
        let set = RuleSet::new(vec![node]);
        let compiled = set.matches(&input);
        assert_eq!(reference.is_some(), !compiled.is_empty(), "{rule} on {text:?}");
        if let (Some(r), Some(c)) = (&reference, compiled.first()) {
            assert_eq!(r, &c.spans, "{rule} spans");
        }
        reference.is_some()
    }

    /// The patterns under which `rule` is listed (see [`RuleSet::selects`]).
    fn selected_by(set: &RuleSet, rule: u32) -> Vec<String> {
        let mut out = Vec::new();
        for (pi, p) in set.patterns.iter().enumerate() {
            let entries = set.selects.get(pi);
            let mut at = 0;
            while at < entries.len() {
                let header = entries[at + 1].0;
                if entries[at].0 == rule {
                    out.push(p.literal.clone());
                }
                at += 2 + usize::from(header & HAS_REST != 0) + (header & MAX_FLAT_TERMS as u32) as usize;
            }
        }
        out
    }

    #[test]
    fn learned_rarity_picks_the_selecting_term() {
        let rule = || vec![parse_rule("internationalization AND cat").unwrap()];
        // The estimate takes a long Latin word as rarer than a short one.
        assert_eq!(selected_by(&RuleSet::new(rule()), 0), ["internationalization"]);
        // In this stream the long word is in every item and "cat" in a few.
        let texts: Vec<String> = (0..MIN_RARITY_SAMPLE)
            .map(|i| format!("internationalization news {}", if i % 50 == 0 { "cat" } else { "dog" }))
            .collect();
        let sample: Vec<RuleInput<'_>> = texts.iter().map(|t| item("", t)).collect();
        let tuned = RuleSet::tuned(rule(), &sample);
        assert_eq!(tuned.learned_from(), MIN_RARITY_SAMPLE);
        assert_eq!(selected_by(&tuned, 0), ["cat"]);
        assert_eq!(tuned.matching(&item("", "cat internationalization")), [0]);
        assert!(tuned.matching(&item("", "internationalization")).is_empty());
        // Too few items to learn from: the estimate stands.
        let tuned = RuleSet::tuned(rule(), &sample[..MIN_RARITY_SAMPLE - 1]);
        assert_eq!(tuned.learned_from(), 0);
        assert_eq!(selected_by(&tuned, 0), ["internationalization"]);
    }

    #[test]
    fn basics() {
        assert!(check("食堂", "", "学校食堂里"));
        assert!(check("臺灣", "", "台湾同学"));
        assert!(!check("cat", "", "category"));
        assert!(check("protest*", "", "Protesters gathered"));
        assert!(check("\"food poisoning\"", "", "FOOD-poisoning cases"));
        assert!(check("\"食品 安全\"", "", "食品、安全问题"));
        assert!(!check("食品安全", "", "食品、安全问题"));
        assert!(check("食堂 NOT 谣言", "", "食堂开放"));
        assert!(!check("食堂 NOT 谣言", "", "食堂谣言"));
        assert!(check("食堂 NEAR/2 腹泻", "", "食堂多人腹泻"));
        assert!(!check("食堂 NEAR/1 腹泻", "", "食堂多人腹泻"));
        assert!(check("腹泻 NEAR/2 食堂", "", "食堂多人腹泻"));
        assert!(!check("腹泻 NEAR/2f 食堂", "", "食堂多人腹泻"));
        assert!(check("title:食堂", "食堂通报", "无关"));
        assert!(!check("title:食堂", "通报", "食堂"));
        assert!(check("site:weibo.com 食堂", "", "食堂"));
        assert!(!check("site:eibo.com 食堂", "", "食堂"));
        assert!(check("(a OR b) AND (c OR d)", "", "b d"));
        assert!(check("source:weibo AND lang:zh", "", "whatever"));
    }

    #[test]
    fn rules_longer_than_the_flat_part_holds() {
        // 70 conjuncts: 63 go to the bit masks, the rest to the program.
        let words: Vec<String> = (0..70).map(|i| format!("w{i}")).collect();
        let text = words.join(" ");
        let all = words.join(" AND ");
        let but_one = format!("{all} NOT w3");
        let missing = format!("{all} AND w70");
        let late_not = format!("{} NOT w69", words[..69].join(" AND "));
        for (rule, want) in [(&all, true), (&but_one, false), (&missing, false), (&late_not, false)] {
            let node = parse_rule(rule).unwrap();
            let input = item("", &text);
            assert_eq!(evaluate_reference(&node, &input).is_some(), want, "{rule}");
            assert_eq!(!RuleSet::new(vec![node]).matching(&input).is_empty(), want, "{rule}");
        }
    }

    #[test]
    fn counting_tokens_agrees_with_tokenizing() {
        let text = "学校食堂 canteen-42，food poisoning 臺灣abc1 x";
        let bounds: Vec<usize> = tokenize(text).iter().flat_map(|&(a, b)| [a, b]).chain([0, text.len()]).collect();
        for &a in &bounds {
            for &b in bounds.iter().filter(|&&b| b >= a) {
                let whole = tokenize(&text[a..b]).len();
                assert_eq!(count_tokens(&text[a..b], usize::MAX - 1), whole, "{:?}", &text[a..b]);
                assert_eq!(count_tokens(&text[a..b], 1), whole.min(2), "{:?}", &text[a..b]);
            }
        }
    }

    #[test]
    fn spans_point_into_the_original() {
        let node = parse_rule("台湾 OR canteen").unwrap();
        let input = item("", "據報道，臺灣 Canteen");
        let m = evaluate_reference(&node, &input).unwrap();
        assert_eq!(m, vec![Span { field: "text", start: 4, end: 6 }, Span { field: "text", start: 7, end: 14 }]);
    }

    #[test]
    fn errors_have_columns() {
        let e = parse_rule("食堂 AND (腹泻 OR").unwrap_err();
        assert_eq!(e.column, 14, "{e}");
        assert!(e.message.contains("expected"), "{e}");
        let e = parse_rule("NOT 谣言").unwrap_err();
        assert!(e.message.contains("positive"), "{e}");
        let e = parse_rule("foo:bar").unwrap_err();
        assert_eq!((e.column, e.message.contains("unknown field")), (1, true), "{e}");
        let e = parse_rule("a \"unclosed").unwrap_err();
        assert_eq!(e.column, 3);
        let e = parse_rule("a NEAR/x b").unwrap_err();
        assert_eq!(e.column, 3);
        let e = parse_rule("(a AND b) NEAR/3 c").unwrap_err();
        assert_eq!(e.column, 1);
        let e = parse_rule("a OR NOT b").unwrap_err();
        assert!(e.message.contains("positive"), "{e}");
        let e = parse_rule("a )").unwrap_err();
        assert_eq!(e.column, 3);
        assert!(parse_rule("").is_err());
        assert!(parse_rule(&"(".repeat(100)).is_err());
    }
}
