//! The registry of claims: statements circulating in public about the organization, their status
//! with its evidence, the items that support, deny, question or comment on them, and the
//! clarification that answered them — with hourly counts of supporting and denying items before
//! and after it (did the clarification reach people?). Pure: times are passed in.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

/// What is known of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Not yet checked.
    Unverified,
    /// False.
    False,
    /// Partly true.
    PartlyTrue,
    /// True.
    True,
    /// True facts, misleading framing.
    Misleading,
}

/// How an item stands to a claim (RumourEval's stances).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stance {
    /// Repeats or supports it.
    Supporting,
    /// Denies it.
    Denying,
    /// Questions it.
    Questioning,
    /// Comments without taking a side.
    Commenting,
}

/// An item linked to a claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClaimItem {
    /// The item.
    pub item: i64,
    /// Its stance.
    pub stance: Stance,
    /// When the item was published.
    pub published_at: DateTime<Utc>,
    /// Who linked it.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Claim {
    /// Id.
    pub id: i64,
    /// Its case.
    pub case_id: i64,
    /// The statement ("三食堂饭菜致多人中毒").
    pub text: String,
    /// Terms an item must contain to be suggested.
    pub key_terms: Vec<String>,
    /// When it was first seen.
    pub first_seen: DateTime<Utc>,
    /// What is known of it.
    pub status: ClaimStatus,
    /// The evidence for the status.
    pub status_evidence: String,
    /// Who set the status, when.
    pub status_by: Option<(String, DateTime<Utc>)>,
    /// Linked items.
    pub items: Vec<ClaimItem>,
    /// The clarification that answered it: the response and when it was published.
    pub clarified: Option<(i64, DateTime<Utc>)>,
    /// Who registered it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// One hour of a claim's items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct StanceHour {
    /// The hour's start.
    pub hour: DateTime<Utc>,
    /// Supporting items published in it.
    pub supporting: usize,
    /// Denying items.
    pub denying: usize,
}

/// Supporting and denying items per hour before and after the clarification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ClarificationEffect {
    /// When the clarification was published.
    pub clarified_at: DateTime<Utc>,
    /// The hours before it (the window), oldest first.
    pub before: Vec<StanceHour>,
    /// The hours after it.
    pub after: Vec<StanceHour>,
    /// Totals before: supporting, denying.
    pub before_totals: (usize, usize),
    /// Totals after.
    pub after_totals: (usize, usize),
}

impl Claim {
    /// Checks a new claim's text and terms.
    pub fn check(text: &str, key_terms: &[String]) -> Result<(), String> {
        if text.trim().is_empty() || text.chars().count() > 2_000 {
            return Err("text: required, at most 2,000 characters".into());
        }
        if key_terms.len() > 20 || key_terms.iter().any(|t| t.trim().is_empty() || t.chars().count() > 50) {
            return Err("key_terms: at most 20, each 1–50 characters".into());
        }
        Ok(())
    }

    /// Links an item (or changes its stance). Returns whether it was new.
    pub fn link(
        &mut self,
        item: i64,
        stance: Stance,
        published_at: DateTime<Utc>,
        by: &str,
        now: DateTime<Utc>,
    ) -> bool {
        match self.items.iter_mut().find(|i| i.item == item) {
            Some(i) => {
                i.stance = stance;
                i.by = by.into();
                i.at = now;
                false
            }
            None => {
                self.items.push(ClaimItem { item, stance, published_at, by: by.into(), at: now });
                true
            }
        }
    }

    /// Hourly supporting and denying counts in the `hours` before and after the clarification.
    pub fn effect(&self, hours: i64) -> Option<ClarificationEffect> {
        let (_, at) = self.clarified?;
        let hour = |t: DateTime<Utc>| t.duration_trunc(Duration::hours(1)).unwrap_or(t);
        let start = hour(at) - Duration::hours(hours);
        let mut before = Vec::new();
        let mut after = Vec::new();
        for h in 0..(2 * hours + 1) {
            let from = start + Duration::hours(h);
            let to = from + Duration::hours(1);
            let count = |s: Stance, lo: DateTime<Utc>, hi: DateTime<Utc>| {
                self.items.iter().filter(|i| i.stance == s && i.published_at >= lo && i.published_at < hi).count()
            };
            // The hour of the clarification is split at its moment.
            if from < at {
                let hi = to.min(at);
                before.push(StanceHour {
                    hour: from,
                    supporting: count(Stance::Supporting, from, hi),
                    denying: count(Stance::Denying, from, hi),
                });
            }
            if to > at {
                let lo = from.max(at);
                after.push(StanceHour {
                    hour: from,
                    supporting: count(Stance::Supporting, lo, to),
                    denying: count(Stance::Denying, lo, to),
                });
            }
        }
        let totals = |v: &[StanceHour]| (v.iter().map(|h| h.supporting).sum(), v.iter().map(|h| h.denying).sum());
        Some(ClarificationEffect {
            clarified_at: at,
            before_totals: totals(&before),
            after_totals: totals(&after),
            before,
            after,
        })
    }
}
