//! Responses, approvals and claims against the store: drafting on a case (the chain picked by
//! `chains.toml` or the built-in rules), every event through
//! `tidewatch_workflow::responses::Response::apply`, written with the case's timeline lines, the
//! notifications to approvers and the audit entry in one transaction; overdue approval steps
//! (the deadline module calls [`Responses::tick`]); word diffs of versions; the claims registry
//! with suggested items and the clarification's effect.

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tidewatch_store::{Db, DocRow, DocWrite, NewAudit, NewNotification, UnitRow};
use tidewatch_text::segment::Segmenter;
use tidewatch_workflow::access::{Grants, UnitTree};
use tidewatch_workflow::claims::{Claim, ClaimStatus, Stance};
use tidewatch_workflow::notify::Language;
use tidewatch_workflow::responses::{
    ApproverSpec, ChainRules, Draft, Event, Outcome, Qualifies, Response, ResponseError, ResponseState, UnitRef,
};

use crate::accounts::Actor;
use crate::cases::Cases;
use crate::EngineError;

/// Reads `chains.toml` from `dir`: the chains and rules in force and what was wrong with the
/// file (the built-in chains stay in force then).
pub fn load_chains(dir: &Path) -> (ChainRules, Option<String>) {
    match std::fs::read_to_string(dir.join("chains.toml")) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (ChainRules::default(), None),
        Err(e) => (ChainRules::default(), Some(format!("chains.toml: {e}; the built-in chains stay in force"))),
        Ok(text) => match parse_chains(&text) {
            Ok(r) => (r, None),
            Err(e) => (ChainRules::default(), Some(format!("chains.toml: {e}; the built-in chains stay in force"))),
        },
    }
}

/// Parses and checks `chains.toml`.
pub fn parse_chains(text: &str) -> Result<ChainRules, String> {
    let r: ChainRules = toml::from_str(text).map_err(|e| e.to_string().trim().to_string())?;
    r.check()?;
    Ok(r)
}

/// Who the actor is, against the directory.
struct Who<'a> {
    actor: &'a Actor,
    units: &'a [UnitRow],
    tree: &'a UnitTree,
    /// (person, grants) of every enabled account with a person.
    accounts: &'a [(String, Grants)],
}

impl Who<'_> {
    fn unit(&self, r: &UnitRef, case_unit: &str) -> Option<String> {
        match r {
            UnitRef::CaseUnit => Some(case_unit.to_string()),
            UnitRef::Named(u) => Some(u.clone()),
            UnitRef::LeadingGroup => {
                let roots: Vec<&UnitRow> = self.units.iter().filter(|u| u.parent.is_none()).collect();
                (roots.len() == 1).then(|| roots[0].id.clone())
            }
        }
    }

    fn holds(&self, grants: &Grants, role: tidewatch_workflow::access::Role, unit: &str) -> bool {
        grants.0.iter().any(|g| g.role == role && g.unit.as_deref().is_none_or(|held| self.tree.within(unit, held)))
    }
}

impl Qualifies for Who<'_> {
    fn qualifies(&self, spec: &ApproverSpec, case_unit: &str) -> bool {
        match spec {
            ApproverSpec::Role { role, unit } => {
                self.unit(unit, case_unit).is_some_and(|u| self.holds(&self.actor.grants, *role, &u))
            }
            ApproverSpec::FirstResponsible(unit) => {
                let first = self
                    .unit(unit, case_unit)
                    .and_then(|u| self.units.iter().find(|x| x.id == u))
                    .and_then(|u| u.first_responsible.clone());
                first.is_some() && first == self.actor.person
            }
            ApproverSpec::Person(p) => self.actor.person.as_deref() == Some(p),
        }
    }

    fn people_for(&self, spec: &ApproverSpec, case_unit: &str) -> Vec<String> {
        let mut out: Vec<String> = match spec {
            ApproverSpec::Role { role, unit } => match self.unit(unit, case_unit) {
                Some(u) => self
                    .accounts
                    .iter()
                    .filter(|(_, g)| {
                        g.0.iter().any(|x| x.role == *role && x.unit.is_some()) && self.holds(g, *role, &u)
                    })
                    .map(|(p, _)| p.clone())
                    .collect(),
                None => Vec::new(),
            },
            ApproverSpec::FirstResponsible(unit) => self
                .unit(unit, case_unit)
                .and_then(|u| self.units.iter().find(|x| x.id == u))
                .and_then(|u| u.first_responsible.clone())
                .into_iter()
                .collect(),
            ApproverSpec::Person(p) => vec![p.clone()],
        };
        out.sort();
        out.dedup();
        out
    }

    fn lead(&self, unit: &str) -> Option<String> {
        let u = self.units.iter().find(|u| u.id == unit)?;
        u.direct_responsible.clone().or_else(|| u.first_responsible.clone())
    }
}

/// One piece of a word diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DiffPart {
    /// `same`, `added` or `removed`.
    pub op: &'static str,
    /// The words.
    pub text: String,
}

/// The difference between two texts word by word (Chinese by segmented words, so a changed
/// character shows in its word).
pub fn word_diff(segmenter: &Segmenter, a: &str, b: &str) -> Vec<DiffPart> {
    let wa = segmenter.cut(a);
    let wb = segmenter.cut(b);
    let mut out: Vec<DiffPart> = Vec::new();
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &wa, &wb) {
        let (name, words): (&'static str, &[&str]) = match op {
            similar::DiffOp::Equal { old_index, len, .. } => ("same", &wa[old_index..old_index + len]),
            similar::DiffOp::Delete { old_index, old_len, .. } => ("removed", &wa[old_index..old_index + old_len]),
            similar::DiffOp::Insert { new_index, new_len, .. } => ("added", &wb[new_index..new_index + new_len]),
            similar::DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                push(&mut out, "removed", &wa[old_index..old_index + old_len].concat());
                ("added", &wb[new_index..new_index + new_len])
            }
        };
        push(&mut out, name, &words.concat());
    }
    out
}

fn push(out: &mut Vec<DiffPart>, op: &'static str, text: &str) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(last) if last.op == op => last.text.push_str(text),
        _ => out.push(DiffPart { op, text: text.to_string() }),
    }
}

fn parse<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> Result<T, EngineError> {
    serde_json::from_str(json).map_err(|e| EngineError::Io(format!("stored {what} is unreadable: {e}")))
}

/// The responses module.
#[derive(Debug)]
pub struct Responses {
    rules: ChainRules,
    base_url: String,
}

fn response_error(e: ResponseError) -> EngineError {
    EngineError::Response(e)
}

impl Responses {
    /// The module with these chains; links in messages start with `base_url`.
    pub fn new(rules: ChainRules, base_url: &str) -> Responses {
        Responses { rules, base_url: base_url.trim_end_matches('/').to_string() }
    }

    /// The chains in force.
    pub fn rules(&self) -> &ChainRules {
        &self.rules
    }

    /// A response.
    pub fn load(db: &Db, id: i64) -> Result<Response, EngineError> {
        let json = db.response(id)?.ok_or_else(|| EngineError::NotFound(format!("no response {id}")))?;
        parse(&json, "response")
    }

    /// A claim.
    pub fn load_claim(db: &Db, id: i64) -> Result<Claim, EngineError> {
        let json = db.claim(id)?.ok_or_else(|| EngineError::NotFound(format!("no claim {id}")))?;
        parse(&json, "claim")
    }

    fn accounts(db: &Db) -> Result<Vec<(String, Grants)>, EngineError> {
        Ok(db
            .accounts()?
            .into_iter()
            .filter(|a| !a.disabled)
            .filter_map(|a| a.person.clone().map(|p| (p, crate::accounts::parse_grants(&a.grants))))
            .collect())
    }

    fn row(r: &Response) -> DocRow {
        DocRow {
            id: r.id,
            case_id: r.case_id,
            state: r.state.as_str().into(),
            next_due: r.step_due().filter(|_| {
                let v = r.current().n;
                !r.escalated.contains(&(v, r.step))
            }),
            data: serde_json::to_string(r).unwrap_or_default(),
        }
    }

    fn claim_row(c: &Claim) -> DocRow {
        DocRow {
            id: c.id,
            case_id: c.case_id,
            state: serde_json::to_value(c.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            next_due: None,
            data: serde_json::to_string(c).unwrap_or_default(),
        }
    }

    /// The write of an outcome: the case's timeline lines and the notifications.
    fn outcome_write(
        &self,
        db: &Db,
        r: &Response,
        out: &Outcome,
        actor: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<DocWrite, EngineError> {
        let mut w = DocWrite::default();
        for (kind, detail) in &out.entries {
            w.entries.push((r.case_id, now, actor.map(str::to_string), kind.clone(), detail.to_string()));
        }
        let people = crate::accounts::people_for_alerting(db)?;
        // The deadline the case's playbook gives the publication (its earliest open response task).
        let deadline = if out.notify.is_empty() {
            None
        } else {
            Cases::load(db, r.case_id)?
                .tasks
                .iter()
                .filter(|t| t.state == tidewatch_workflow::cases::TaskState::Open && t.kind.is_response())
                .filter_map(|t| t.due_at)
                .min()
        };
        let shanghai =
            |t: DateTime<Utc>| t.with_timezone(&chrono_tz::Asia::Shanghai).format("%Y-%m-%d %H:%M %Z").to_string();
        for n in &out.notify {
            for person in &n.to {
                let Some(p) = people.iter().find(|p| &p.id == person) else { continue };
                let link = match (deadline, p.lang) {
                    (Some(d), Language::Zh) => {
                        format!("{}/#response-{}\n发布期限：{}", self.base_url, r.id, shanghai(d))
                    }
                    (Some(d), Language::En) => {
                        format!("{}/#response-{}\nTo be published by {}", self.base_url, r.id, shanghai(d))
                    }
                    (None, _) => format!("{}/#response-{}", self.base_url, r.id),
                };
                let title = &r.current().title;
                let (subject, body) = match (p.lang, n.what) {
                    (Language::Zh, "approval_requested") => {
                        (format!("[待审批] {title}"), format!("请审批「{}」环节：{title}\n{link}\n", n.step))
                    }
                    (Language::Zh, "returned") => {
                        (format!("[退回] {title}"), format!("「{}」环节退回了稿件，请修改。\n{link}\n", n.step))
                    }
                    (Language::Zh, "approved") => {
                        (format!("[审批通过] {title}"), format!("稿件已审批通过，可以发布。\n{link}\n"))
                    }
                    (Language::Zh, _) => {
                        (format!("[审批逾期] {title}"), format!("「{}」环节的审批已逾期。\n{link}\n", n.step))
                    }
                    (Language::En, "approval_requested") => {
                        (format!("[Approval] {title}"), format!("Please review step \"{}\": {title}\n{link}\n", n.step))
                    }
                    (Language::En, "returned") => {
                        (format!("[Returned] {title}"), format!("Step \"{}\" returned the draft.\n{link}\n", n.step))
                    }
                    (Language::En, "approved") => (
                        format!("[Approved] {title}"),
                        format!("The response is approved and can be published.\n{link}\n"),
                    ),
                    (Language::En, _) => (
                        format!("[Overdue] {title}"),
                        format!("The approval of step \"{}\" is overdue.\n{link}\n", n.step),
                    ),
                };
                for (i, c) in p.channels.iter().enumerate() {
                    w.notifications.push(NewNotification {
                        key: format!("{}:{person}:{i}", n.key),
                        alert: 0,
                        recipient: person.clone(),
                        channel: serde_json::to_string(c).unwrap_or_default(),
                        subject: subject.clone(),
                        body: body.clone(),
                    });
                }
            }
        }
        Ok(w)
    }

    /// Drafts a response on case `case_id`; the chain is picked by the case's unit,
    /// classification and grade.
    pub fn draft(
        &self,
        db: &mut Db,
        actor: &Actor,
        address: Option<&str>,
        case_id: i64,
        d: Draft,
        now: DateTime<Utc>,
    ) -> Result<Response, EngineError> {
        let case = Cases::load(db, case_id)?;
        if !case.state.is_open() {
            return Err(response_error(ResponseError::Field(
                "case",
                format!("case {case_id} is {}", case.state.as_str()),
            )));
        }
        if let Some(c) = d.claim {
            let claim = Responses::load_claim(db, c)?;
            if claim.case_id != case_id {
                return Err(response_error(ResponseError::Field(
                    "claim",
                    format!("claim {c} is not on case {case_id}"),
                )));
            }
        }
        if let Some(c) = d.corrects {
            let old = Responses::load(db, c)?;
            if old.state != ResponseState::Published || old.case_id != case_id {
                return Err(response_error(ResponseError::Field(
                    "corrects",
                    format!("response {c} is not a published response of this case"),
                )));
            }
        }
        let chain = self
            .rules
            .select(&case.unit, case.classification(), case.grade())
            .cloned()
            .ok_or_else(|| EngineError::Config("no approval chain".into()))?;
        let id = db.next_doc_id("responses")?;
        let (r, out) =
            Response::new(id, case_id, &case.unit, d, chain, &actor.username, now).map_err(response_error)?;
        let mut w = self.outcome_write(db, &r, &out, Some(&actor.username), now)?;
        w.responses.push(Responses::row(&r));
        w.audit = Some(NewAudit::new(&actor.username, address, "response.draft", &format!("response:{id}")).with(
            serde_json::json!({"case": case_id, "unit": case.unit, "kind": r.kind, "chain": r.chain.name, "corrects": r.corrects}),
        ));
        db.write_docs(&w, now)?;
        Ok(r)
    }

    /// Applies `event` to response `id` as `actor`; publishing a clarification marks its claim.
    pub fn act(
        &self,
        db: &mut Db,
        actor: &Actor,
        address: Option<&str>,
        id: i64,
        event: Event,
        now: DateTime<Utc>,
    ) -> Result<Response, EngineError> {
        let mut r = Responses::load(db, id)?;
        let units = db.units()?;
        let tree = crate::accounts::unit_tree(db)?;
        let accounts = Responses::accounts(db)?;
        let who = Who { actor, units: &units, tree: &tree, accounts: &accounts };
        let name = event.name();
        if let Event::Publish { places } = &event {
            if places.iter().any(|(p, _)| *p == tidewatch_workflow::responses::Place::OwnChannels)
                && self.rules.own_channels.is_empty()
            {
                return Err(response_error(ResponseError::Field(
                    "places",
                    "own_channels: no own channel is configured (own_channel in chains.toml)".into(),
                )));
            }
        }
        let before = r.state;
        let out = r.apply(event, &actor.username, now, &who).map_err(response_error)?;
        let mut w = self.outcome_write(db, &r, &out, Some(&actor.username), now)?;
        if let Some((title, body)) = &out.broadcast {
            for (i, c) in self.rules.own_channels.iter().enumerate() {
                w.notifications.push(NewNotification {
                    key: format!("response:{}:own:{i}", r.id),
                    alert: 0,
                    recipient: format!("own-channel-{i}"),
                    channel: serde_json::to_string(c).unwrap_or_default(),
                    subject: title.clone(),
                    body: body.clone(),
                });
            }
        }
        if r.state == ResponseState::Published && before != ResponseState::Published {
            if let Some(c) = r.claim {
                let mut claim = Responses::load_claim(db, c)?;
                if claim.clarified.is_none() {
                    claim.clarified = Some((r.id, now));
                    w.entries.push((
                        r.case_id,
                        now,
                        None,
                        "claim_clarified".into(),
                        serde_json::json!({"claim": c, "response": r.id}).to_string(),
                    ));
                    w.claims.push(Responses::claim_row(&claim));
                }
            }
        }
        w.responses.push(Responses::row(&r));
        w.audit = Some(NewAudit::new(&actor.username, address, &format!("response.{name}"), &format!("response:{id}")).with(
            serde_json::json!({"case": r.case_id, "unit": r.unit, "before": before.as_str(), "after": r.state.as_str(), "version": r.current().n}),
        ));
        db.write_docs(&w, now)?;
        Ok(r)
    }

    /// Whether `actor` may decide response `r`'s step under review now (its approver spec).
    pub fn may_decide(db: &Db, actor: &Actor, r: &Response) -> Result<bool, EngineError> {
        if r.state != ResponseState::InReview {
            return Ok(false);
        }
        let Some(step) = r.chain.steps.get(r.step) else { return Ok(false) };
        let units = db.units()?;
        let tree = crate::accounts::unit_tree(db)?;
        let accounts = Responses::accounts(db)?;
        let who = Who { actor, units: &units, tree: &tree, accounts: &accounts };
        Ok(who.qualifies(&step.approver, &r.unit))
    }

    /// Overdue approval steps at `now`, each escalated once.
    pub fn tick(&self, db: &mut Db, now: DateTime<Utc>) -> Result<usize, EngineError> {
        let due = db.responses_due(now, 100)?;
        if due.is_empty() {
            return Ok(0);
        }
        let units = db.units()?;
        let tree = crate::accounts::unit_tree(db)?;
        let accounts = Responses::accounts(db)?;
        let system = Actor::local("system");
        let who = Who { actor: &system, units: &units, tree: &tree, accounts: &accounts };
        let mut n = 0;
        for json in due {
            let mut r: Response = parse(&json, "response")?;
            let out = r.apply(Event::Tick, "system", now, &who).map_err(response_error)?;
            let mut w = self.outcome_write(db, &r, &out, None, now)?;
            n += w.notifications.len();
            w.responses.push(Responses::row(&r));
            db.write_docs(&w, now)?;
        }
        Ok(n)
    }

    /// Registers a claim on case `case_id`.
    #[allow(clippy::too_many_arguments)]
    pub fn new_claim(
        &self,
        db: &mut Db,
        actor: &Actor,
        address: Option<&str>,
        case_id: i64,
        text: &str,
        key_terms: Vec<String>,
        first_seen: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Claim, EngineError> {
        Cases::load(db, case_id)?;
        Claim::check(text, &key_terms).map_err(|e| response_error(ResponseError::Field("claim", e)))?;
        let id = db.next_doc_id("claims")?;
        let c = Claim {
            id,
            case_id,
            text: text.trim().to_string(),
            key_terms,
            first_seen: first_seen.unwrap_or(now),
            status: ClaimStatus::Unverified,
            status_evidence: String::new(),
            status_by: None,
            items: Vec::new(),
            clarified: None,
            created_by: actor.username.clone(),
            created_at: now,
        };
        let w = DocWrite {
            claims: vec![Responses::claim_row(&c)],
            entries: vec![(
                case_id,
                now,
                Some(actor.username.clone()),
                "claim_registered".into(),
                serde_json::json!({"claim": id, "text": c.text}).to_string(),
            )],
            audit: Some(
                NewAudit::new(&actor.username, address, "claim.create", &format!("claim:{id}"))
                    .with(serde_json::json!({"case": case_id})),
            ),
            ..DocWrite::default()
        };
        db.write_docs(&w, now)?;
        Ok(c)
    }

    /// Sets a claim's status with its evidence.
    #[allow(clippy::too_many_arguments)]
    pub fn set_claim_status(
        &self,
        db: &mut Db,
        actor: &Actor,
        address: Option<&str>,
        id: i64,
        status: ClaimStatus,
        evidence: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim, EngineError> {
        let mut c = Responses::load_claim(db, id)?;
        if evidence.trim().is_empty() && status != ClaimStatus::Unverified {
            return Err(response_error(ResponseError::Field("evidence", "give the evidence for the status".into())));
        }
        let before = c.status;
        c.status = status;
        c.status_evidence = evidence.to_string();
        c.status_by = Some((actor.username.clone(), now));
        let w = DocWrite {
            claims: vec![Responses::claim_row(&c)],
            entries: vec![(
                c.case_id,
                now,
                Some(actor.username.clone()),
                "claim_status".into(),
                serde_json::json!({"claim": id, "before": before, "status": status}).to_string(),
            )],
            audit: Some(
                NewAudit::new(&actor.username, address, "claim.status", &format!("claim:{id}"))
                    .with(serde_json::json!({"case": c.case_id, "before": before, "after": status})),
            ),
            ..DocWrite::default()
        };
        db.write_docs(&w, now)?;
        Ok(c)
    }

    /// Links an item to a claim with its stance.
    #[allow(clippy::too_many_arguments)]
    pub fn link_item(
        &self,
        db: &mut Db,
        actor: &Actor,
        address: Option<&str>,
        id: i64,
        item: i64,
        stance: Stance,
        now: DateTime<Utc>,
    ) -> Result<Claim, EngineError> {
        let mut c = Responses::load_claim(db, id)?;
        let stored = db.items_by_ids(&[tidewatch_model::ItemId(item)])?;
        let it = stored.first().ok_or_else(|| EngineError::NotFound(format!("no item {item}")))?;
        c.link(item, stance, it.item.published_at, &actor.username, now);
        let w = DocWrite {
            claims: vec![Responses::claim_row(&c)],
            entries: vec![(
                c.case_id,
                now,
                Some(actor.username.clone()),
                "claim_item".into(),
                serde_json::json!({"claim": id, "item": item, "stance": stance}).to_string(),
            )],
            audit: Some(
                NewAudit::new(&actor.username, address, "claim.link", &format!("claim:{id}"))
                    .with(serde_json::json!({"case": c.case_id, "item": item, "stance": stance})),
            ),
            ..DocWrite::default()
        };
        db.write_docs(&w, now)?;
        Ok(c)
    }

    /// Items of the case's stories that contain every key term of the claim and are not linked
    /// yet: proposed to the analyst, who confirms.
    pub fn suggestions(db: &Db, claim: &Claim, limit: usize) -> Result<Vec<i64>, EngineError> {
        if claim.key_terms.is_empty() {
            return Ok(Vec::new());
        }
        let case = Cases::load(db, claim.case_id)?;
        let linked: HashSet<i64> = claim.items.iter().map(|i| i.item).collect();
        let mut out = Vec::new();
        for story in case.stories() {
            let ids = db.story_items(story, 2000)?;
            for it in db.items_by_ids(&ids)? {
                if out.len() >= limit {
                    return Ok(out);
                }
                let text = format!("{} {}", it.item.title, it.item.text);
                if !linked.contains(&it.id.0) && claim.key_terms.iter().all(|t| text.contains(t.as_str())) {
                    out.push(it.id.0);
                }
            }
        }
        Ok(out)
    }
}
