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

use crate::normalize::{fold_with_map, FoldMap};
use aho_corasick::{AhoCorasick, MatchKind};
use std::collections::HashMap;

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

/// One field cut into tokens.
#[derive(Debug)]
struct FieldText {
    folded: String,
    map: FoldMap,
    /// Byte ranges of tokens in `folded`.
    tokens: Vec<(usize, usize)>,
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

impl FieldText {
    fn new(original: &str) -> FieldText {
        let (folded, map) = fold_with_map(original);
        let tokens = tokenize(&folded);
        FieldText { folded, map, tokens }
    }

    fn tok(&self, i: usize) -> &str {
        let (a, b) = self.tokens[i];
        &self.folded[a..b]
    }

    fn gap(&self, i: usize) -> &str {
        // Separator between token i-1 and token i.
        &self.folded[self.tokens[i - 1].1..self.tokens[i].0]
    }

    fn token_at_byte(&self, byte: usize) -> Option<usize> {
        self.tokens.binary_search_by(|t| t.0.cmp(&byte)).ok()
    }
}

/// A leaf prepared for matching: its tokens and the separators a term requires between them.
#[derive(Debug, Clone)]
struct LeafPattern {
    tokens: Vec<String>,
    gaps: Vec<String>,
    phrase: bool,
    wildcard: bool,
    field: Field,
    /// The literal the automaton looks for.
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

    /// Whether the pattern occurs at token `i`; returns the end token (exclusive).
    fn check_at(&self, f: &FieldText, i: usize) -> Option<usize> {
        let n = self.tokens.len();
        if n == 0 || i + n > f.tokens.len() {
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

    /// The token index of the phrase's first token, given where its literal was found.
    fn literal_offset(&self) -> usize {
        self.literal_index
    }
}

/// One occurrence: field (0 title, 1 text) and token range.
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
/// same field (`x` first when `ordered`).
fn near_within(x: &Occ, y: &Occ, n: u32, ordered: bool) -> bool {
    if x.field != y.field {
        return false;
    }
    if y.start >= x.end {
        y.start - x.end <= n
    } else {
        !ordered && x.start >= y.end && x.start - y.end <= n
    }
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

/// Evaluates `node` given each leaf's occurrences (`occ(leaf_index)`), numbering leaves in
/// [`Node::for_each_leaf`] order. Records which positive leaves were true.
fn eval(
    node: &Node,
    next_leaf: &mut usize,
    occ: &dyn Fn(usize) -> (bool, Vec<Occ>),
    fired: &mut Vec<Occ>,
    negated: bool,
) -> bool {
    match node {
        Node::Leaf(_) => {
            let id = *next_leaf;
            *next_leaf += 1;
            let (hit, occs) = occ(id);
            if hit && !negated {
                fired.extend(occs);
            }
            hit
        }
        Node::And(v) => {
            let mut all = true;
            let mut local = Vec::new();
            for n in v {
                // Evaluate every child so that leaf numbering stays aligned.
                if !eval(n, next_leaf, occ, &mut local, negated) {
                    all = false;
                }
            }
            if all {
                fired.extend(local);
            }
            all
        }
        Node::Or(v) => {
            let mut any = false;
            for n in v {
                if eval(n, next_leaf, occ, fired, negated) {
                    any = true;
                }
            }
            any
        }
        Node::Not(n) => {
            let mut ignored = Vec::new();
            !eval(n, next_leaf, occ, &mut ignored, !negated)
        }
        Node::Near { a, b, n, ordered } => {
            let first = *next_leaf;
            let mut oa = Vec::new();
            let mut ob = Vec::new();
            collect_occ(a, next_leaf, occ, &mut oa);
            collect_occ(b, next_leaf, occ, &mut ob);
            let _ = first;
            let mut hit = false;
            let mut local = Vec::new();
            for x in &oa {
                for y in &ob {
                    if near_within(x, y, *n, *ordered) {
                        hit = true;
                        local.push(*x);
                        local.push(*y);
                    }
                }
            }
            if hit && !negated {
                fired.extend(local);
            }
            hit
        }
    }
}

fn collect_occ(node: &Node, next_leaf: &mut usize, occ: &dyn Fn(usize) -> (bool, Vec<Occ>), out: &mut Vec<Occ>) {
    match node {
        Node::Leaf(_) => {
            let id = *next_leaf;
            *next_leaf += 1;
            out.extend(occ(id).1);
        }
        Node::Or(v) => v.iter().for_each(|n| collect_occ(n, next_leaf, occ, out)),
        // The parser only allows leaves and OR-groups under NEAR.
        other => {
            let mut ignored = Vec::new();
            eval(other, next_leaf, occ, &mut ignored, false);
        }
    }
}

fn count_leaves(node: &Node) -> usize {
    match node {
        Node::Leaf(_) => 1,
        Node::And(v) | Node::Or(v) => v.iter().map(count_leaves).sum(),
        Node::Not(n) => count_leaves(n),
        Node::Near { a, b, .. } => count_leaves(a) + count_leaves(b),
    }
}

/// The boolean value of `node` alone, short-circuiting, without allocating: the fast path that
/// decides whether a candidate rule matches before its spans are computed.
fn eval_bool<'o>(
    node: &Node,
    next_leaf: &mut usize,
    hit: &dyn Fn(usize) -> bool,
    occ: &dyn Fn(usize) -> &'o [Occ],
) -> bool {
    match node {
        Node::Leaf(_) => {
            let id = *next_leaf;
            *next_leaf += 1;
            hit(id)
        }
        Node::And(v) => {
            let mut all = true;
            for n in v {
                if all {
                    all = eval_bool(n, next_leaf, hit, occ);
                } else {
                    *next_leaf += count_leaves(n);
                }
            }
            all
        }
        Node::Or(v) => {
            let mut any = false;
            for n in v {
                if any {
                    *next_leaf += count_leaves(n);
                } else {
                    any = eval_bool(n, next_leaf, hit, occ);
                }
            }
            any
        }
        Node::Not(n) => !eval_bool(n, next_leaf, hit, occ),
        Node::Near { a, b, n, ordered } => {
            let a_start = *next_leaf;
            let a_end = a_start + count_leaves(a);
            let b_end = a_end + count_leaves(b);
            *next_leaf = b_end;
            for la in a_start..a_end {
                for x in occ(la) {
                    for lb in a_end..b_end {
                        for y in occ(lb) {
                            if near_within(x, y, *n, *ordered) {
                                return true;
                            }
                        }
                    }
                }
            }
            false
        }
    }
}

fn leaves(node: &Node) -> Vec<Leaf> {
    let mut v = Vec::new();
    node.for_each_leaf(false, &mut |l, _| v.push(l.clone()));
    v
}

fn spans(fields: &[FieldText; 2], originals: [&str; 2], fired: &mut [Occ]) -> Vec<Span> {
    fired.sort();
    let mut out: Vec<Span> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for o in fired.iter() {
        if !seen.insert(*o) {
            continue;
        }
        let f = &fields[o.field as usize];
        let (a, _) = f.tokens[o.start as usize];
        let (_, b) = f.tokens[o.end as usize - 1];
        let (oa, ob) = f.map.original_range(a, b);
        let original = originals[o.field as usize];
        out.push(Span {
            field: if o.field == 0 { "title" } else { "text" },
            start: original[..oa].chars().count(),
            end: original[..ob].chars().count(),
        });
    }
    out
}

/// Matches one rule by scanning every token (the reference the compiled engine is tested
/// against). Returns the spans when it matches.
pub fn evaluate_reference(node: &Node, input: &RuleInput<'_>) -> Option<Vec<Span>> {
    let fields = [FieldText::new(input.title), FieldText::new(input.text)];
    let leaves = leaves(node);
    let patterns: Vec<LeafPattern> = leaves.iter().map(LeafPattern::new).collect();
    let occ = |id: usize| -> (bool, Vec<Occ>) {
        let leaf = &leaves[id];
        if leaf.field.is_metadata() {
            return (meta_matches(leaf, input), Vec::new());
        }
        let p = &patterns[id];
        let mut v = Vec::new();
        for (fi, f) in fields.iter().enumerate() {
            if !p.applies_to(fi) {
                continue;
            }
            for i in 0..f.tokens.len() {
                if let Some(end) = p.check_at(f, i) {
                    v.push(Occ { field: fi as u8, start: i as u32, end: end as u32 });
                }
            }
        }
        (!v.is_empty(), v)
    };
    let mut fired = Vec::new();
    let mut next = 0;
    if eval(node, &mut next, &occ, &mut fired, false) {
        Some(spans(&fields, [input.title, input.text], &mut fired))
    } else {
        None
    }
}

struct CompiledRule {
    node: Node,
    leaves: Vec<Leaf>,
    patterns: Vec<LeafPattern>,
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
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    automaton: Option<AhoCorasick>,
    /// For each automaton pattern: the (rule, leaf) pairs that use it.
    users: Vec<Vec<(u32, u32)>>,
    /// Rules whose text leaves cannot select them (metadata-only rules): always evaluated.
    always: Vec<u32>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet").field("rules", &self.rules.len()).field("patterns", &self.users.len()).finish()
    }
}

impl RuleSet {
    /// Compiles parsed rules (indexes in the result refer to positions in `rules`).
    pub fn new(rules: Vec<Node>) -> RuleSet {
        let mut literal_ids: HashMap<String, usize> = HashMap::new();
        let mut literals: Vec<String> = Vec::new();
        let mut users: Vec<Vec<(u32, u32)>> = Vec::new();
        let mut always = Vec::new();
        let mut compiled = Vec::with_capacity(rules.len());
        for (ri, node) in rules.into_iter().enumerate() {
            let leaves = leaves(&node);
            let patterns: Vec<LeafPattern> = leaves.iter().map(LeafPattern::new).collect();
            let mut has_text_leaf = false;
            for (li, (leaf, p)) in leaves.iter().zip(&patterns).enumerate() {
                if leaf.field.is_metadata() || p.literal.is_empty() {
                    continue;
                }
                has_text_leaf = true;
                let id = *literal_ids.entry(p.literal.clone()).or_insert_with(|| {
                    literals.push(p.literal.clone());
                    users.push(Vec::new());
                    literals.len() - 1
                });
                users[id].push((ri as u32, li as u32));
            }
            // A rule whose positive part is only metadata cannot be selected by words.
            let mut positive_text = false;
            node.for_each_leaf(false, &mut |l, neg| positive_text |= !neg && !l.field.is_metadata());
            if !has_text_leaf || !positive_text {
                always.push(ri as u32);
            }
            compiled.push(CompiledRule { node, leaves, patterns });
        }
        let automaton = if literals.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&literals)
                    .expect("literals are plain strings within automaton limits"),
            )
        };
        RuleSet { rules: compiled, automaton, users, always }
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
        // (rule, leaf, occurrence) for every verified literal hit; sorted, so each rule's hits
        // and each leaf's occurrences are contiguous.
        let mut hits: Vec<(u32, u32, Occ)> = Vec::new();
        if let Some(ac) = &self.automaton {
            for (fi, f) in fields.iter().enumerate() {
                for m in ac.find_overlapping_iter(&f.folded) {
                    let Some(tok) = f.token_at_byte(m.start()) else { continue };
                    for &(ri, li) in &self.users[m.pattern().as_usize()] {
                        let p = &self.rules[ri as usize].patterns[li as usize];
                        if !p.applies_to(fi) {
                            continue;
                        }
                        let offset = p.literal_offset();
                        if tok < offset {
                            continue;
                        }
                        let start = tok - offset;
                        if let Some(end) = p.check_at(f, start) {
                            hits.push((ri, li, Occ { field: fi as u8, start: start as u32, end: end as u32 }));
                        }
                    }
                }
            }
        }
        hits.sort_unstable();
        hits.dedup();
        let mut candidates: Vec<(u32, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < hits.len() {
            let r = hits[i].0;
            let j = i + hits[i..].partition_point(|h| h.0 == r);
            candidates.push((r, i, j));
            i = j;
        }
        for &r in &self.always {
            if let Err(pos) = candidates.binary_search_by_key(&r, |c| c.0) {
                candidates.insert(pos, (r, 0, 0));
            }
        }
        let mut out = Vec::new();
        for (ri, from, to) in candidates {
            let rule = &self.rules[ri as usize];
            let rule_hits = &hits[from..to];
            let bounds = |li: usize| -> (usize, usize) {
                let lo = rule_hits.partition_point(|h| (h.1 as usize) < li);
                let hi = rule_hits.partition_point(|h| (h.1 as usize) <= li);
                (lo, hi)
            };
            let leaf_occs: Vec<Occ> = rule_hits.iter().map(|h| h.2).collect();
            let occ_slice = |li: usize| -> &[Occ] {
                let (lo, hi) = bounds(li);
                &leaf_occs[lo..hi]
            };
            let hit = |li: usize| -> bool {
                let leaf = &rule.leaves[li];
                if leaf.field.is_metadata() {
                    return meta_matches(leaf, input);
                }
                let (lo, hi) = bounds(li);
                hi > lo
            };
            let mut next = 0;
            if !eval_bool(&rule.node, &mut next, &hit, &occ_slice) {
                continue;
            }
            let occ = |li: usize| -> (bool, Vec<Occ>) {
                let leaf = &rule.leaves[li];
                if leaf.field.is_metadata() {
                    return (meta_matches(leaf, input), Vec::new());
                }
                let v = occ_slice(li).to_vec();
                (!v.is_empty(), v)
            };
            let mut fired = Vec::new();
            let mut next = 0;
            if eval(&rule.node, &mut next, &occ, &mut fired, false) {
                out.push(RuleMatch { rule: ri as usize, spans: spans(&fields, [input.title, input.text], &mut fired) });
            }
        }
        out
    }

    /// The literals of every term (for the bare-scan baseline of the benchmark).
    pub fn literals(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .rules
            .iter()
            .flat_map(|r| r.patterns.iter().map(|p| p.literal.clone()))
            .filter(|l| !l.is_empty())
            .collect();
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
