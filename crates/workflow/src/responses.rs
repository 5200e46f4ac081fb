//! Official responses and their approval chains: 撰写人起草 → 所属系室负责人审稿 → 分管院领导审核 →
//! 宣传员 → 书记审核 → 推送发布.
//!
//! A [`Response`] belongs to a case. Every edit is a new [`Version`]; an approval applies to one
//! version, and an edit after an approval starts the chain again for the new version. The chain
//! ([`Chain`]) is an ordered list of steps, each naming a role in a unit (the case's or a named
//! one), a unit's first responsible person, or a named person, with a number of approvers
//! required. At each step an approver approves or returns the draft with a comment. Nobody
//! approves a version they wrote, and nobody approves two steps of one version. A published
//! response is immutable; a correction is a new response linked to it.
//!
//! [`ChainRules`] picks the chain for a case: the first rule matching its unit, classification and
//! grade, else the default. Everything is pure: the clock and who qualifies for a step
//! ([`Qualifies`]) are passed in.

use crate::access::Role;
use crate::cases::{Classification, Grade};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// What a response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseKind {
    /// An answer to an inquiry.
    Answer,
    /// A statement of the facts and how the event is handled.
    Statement,
    /// A clarification of a claim.
    Clarification,
    /// A reply to a suggestion.
    Reply,
}

/// Where a response is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// The organization's own site.
    OwnSite,
    /// Its official accounts (Weibo, WeChat, …).
    OfficialAccount,
    /// A reply to the original post.
    ReplyToPost,
    /// The press.
    Press,
    /// The organization's own notification channels (Tidewatch sends the approved text itself).
    OwnChannels,
}

/// The unit a step names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnitRef {
    /// The case's owner unit.
    CaseUnit,
    /// The leading group (the root of the unit tree).
    LeadingGroup,
    /// A named unit.
    Named(String),
}

/// Who approves a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApproverSpec {
    /// Someone holding this role for the unit.
    Role {
        /// The role.
        role: Role,
        /// The unit.
        unit: UnitRef,
    },
    /// The unit's first responsible person (第一责任人), e.g. the party secretary.
    FirstResponsible(UnitRef),
    /// A named person.
    Person(String),
}

/// One step of a chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainStep {
    /// Its name (所属系室负责人审稿).
    pub name: String,
    /// Who approves it.
    pub approver: ApproverSpec,
    /// Approvers needed (default 1).
    #[serde(default = "one")]
    pub required: u32,
    /// Hours the step has before it is overdue and escalated.
    #[serde(default = "four")]
    pub hours: f64,
}

fn one() -> u32 {
    1
}
fn four() -> f64 {
    4.0
}

/// An approval chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    /// Its name.
    pub name: String,
    /// The steps, in order.
    #[serde(rename = "step")]
    pub steps: Vec<ChainStep>,
}

/// Which chain a case's responses take.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainRule {
    /// Cases of this owner unit (any when absent).
    #[serde(default)]
    pub unit: Option<String>,
    /// Cases of this classification (any when absent).
    #[serde(default)]
    pub classification: Option<Classification>,
    /// Cases graded at least this (any when absent).
    #[serde(default)]
    pub min_grade: Option<Grade>,
    /// The chain.
    pub chain: String,
}

/// `chains.toml`: the chains and the rules that pick them; the first matching rule wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChainRules {
    /// The chain when no rule matches.
    pub default: String,
    /// The chains.
    #[serde(rename = "chain")]
    pub chains: Vec<Chain>,
    /// The rules, in order.
    #[serde(default, rename = "rule")]
    pub rules: Vec<ChainRule>,
    /// The organization's own notification channels: a response published to `own_channels`
    /// is sent to each of them (its approved text).
    #[serde(default, rename = "own_channel")]
    pub own_channels: Vec<crate::notify::Channel>,
}

fn step(name: &str, approver: ApproverSpec) -> ChainStep {
    ChainStep { name: name.into(), approver, required: 1, hours: four() }
}

impl Default for ChainRules {
    /// The procedure's chain (section head → deputy head → publicity officer → secretary), and
    /// for fabrication the legal office after the section head; grade I adds the leading group's
    /// first responsible person.
    fn default() -> Self {
        let section_head =
            step("所属系室负责人审稿", ApproverSpec::Role { role: Role::UnitLead, unit: UnitRef::CaseUnit });
        let deputy = step("分管院领导审核", ApproverSpec::Role { role: Role::Approver, unit: UnitRef::LeadingGroup });
        let publicity = step("宣传员", ApproverSpec::Role { role: Role::Analyst, unit: UnitRef::LeadingGroup });
        let secretary = step("书记审核", ApproverSpec::FirstResponsible(UnitRef::LeadingGroup));
        let legal =
            step("法务审核", ApproverSpec::Role { role: Role::UnitLead, unit: UnitRef::Named("法务处".into()) });
        ChainRules {
            default: "procedure".into(),
            chains: vec![
                Chain {
                    name: "procedure".into(),
                    steps: vec![section_head.clone(), deputy.clone(), publicity.clone(), secretary.clone()],
                },
                Chain {
                    name: "fabrication".into(),
                    steps: vec![section_head.clone(), legal, deputy.clone(), publicity.clone(), secretary.clone()],
                },
                Chain { name: "grade_i".into(), steps: vec![section_head, deputy, publicity, secretary] },
            ],
            rules: vec![ChainRule {
                unit: None,
                classification: Some(Classification::Fabrication),
                min_grade: None,
                chain: "fabrication".into(),
            }],
            own_channels: Vec::new(),
        }
    }
}

impl ChainRules {
    /// Every rule and the default name a chain; chains have steps; names are unique.
    pub fn check(&self) -> Result<(), String> {
        for (i, c) in self.chains.iter().enumerate() {
            if c.steps.is_empty() {
                return Err(format!("chain {}: no steps", c.name));
            }
            if self.chains[..i].iter().any(|x| x.name == c.name) {
                return Err(format!("chain {} appears twice", c.name));
            }
            for s in &c.steps {
                if s.required == 0 || s.required > 20 {
                    return Err(format!("chain {} step {}: required must be 1..=20", c.name, s.name));
                }
                if !(s.hours.is_finite() && s.hours > 0.0 && s.hours <= 24.0 * 31.0) {
                    return Err(format!("chain {} step {}: hours must be in (0, 744]", c.name, s.name));
                }
            }
        }
        for name in std::iter::once(&self.default).chain(self.rules.iter().map(|r| &r.chain)) {
            if !self.chains.iter().any(|c| &c.name == name) {
                return Err(format!("no chain {name:?}"));
            }
        }
        Ok(())
    }

    /// The chain for a case of `unit`, `classification` and `grade`: the first matching rule's,
    /// else the default.
    pub fn select(&self, unit: &str, classification: Option<Classification>, grade: Option<Grade>) -> Option<&Chain> {
        let name = self
            .rules
            .iter()
            .find(|r| {
                r.unit.as_deref().is_none_or(|u| u == unit)
                    && r.classification.is_none_or(|c| Some(c) == classification)
                    && r.min_grade.is_none_or(|g| grade.is_some_and(|x| x >= g))
            })
            .map(|r| &r.chain)
            .unwrap_or(&self.default);
        self.chains.iter().find(|c| &c.name == name)
    }
}

/// One version of a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Version {
    /// 1, 2, …
    pub n: u32,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Who wrote it.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// An approval or a return.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Decision {
    /// The version decided on.
    pub version: u32,
    /// The step (0-based).
    pub step: usize,
    /// Who.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Approved, or returned.
    pub approved: bool,
    /// The comment (required to return).
    pub comment: String,
}

/// A record that the response went out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Publication {
    /// Where.
    pub place: Place,
    /// The URL of the published text, when there is one.
    pub url: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// Who recorded it.
    pub by: String,
}

/// Where a response is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResponseState {
    /// Being written (also after a return).
    Draft,
    /// Going through the chain.
    InReview,
    /// Every step approved the current version.
    Approved,
    /// Out; immutable.
    Published,
}

impl ResponseState {
    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseState::Draft => "draft",
            ResponseState::InReview => "in_review",
            ResponseState::Approved => "approved",
            ResponseState::Published => "published",
        }
    }
}

/// A response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Response {
    /// Id.
    pub id: i64,
    /// Its case.
    pub case_id: i64,
    /// The case's owner unit (for the chain's `case_unit`).
    pub unit: String,
    /// What it is.
    pub kind: ResponseKind,
    /// `zh` or `en`.
    pub lang: String,
    /// Where it will be published.
    pub places: Vec<Place>,
    /// Who it is for.
    pub audience: String,
    /// The claim it clarifies.
    pub claim: Option<i64>,
    /// The published response it corrects.
    pub corrects: Option<i64>,
    /// Its chain.
    pub chain: Chain,
    /// Where it is.
    pub state: ResponseState,
    /// Every version, oldest first; the last is current.
    pub versions: Vec<Version>,
    /// The step under review (InReview).
    pub step: usize,
    /// When the step under review started.
    pub step_started: Option<DateTime<Utc>>,
    /// Steps whose deadline passed and were escalated (version, step).
    pub escalated: Vec<(u32, usize)>,
    /// Every approval and return.
    pub decisions: Vec<Decision>,
    /// Where it went out.
    pub publications: Vec<Publication>,
    /// Who drafted it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What happens to a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    /// A new version.
    Edit { title: String, body: String },
    /// The current version goes to the chain.
    Submit,
    /// The step approves `version`.
    Approve { version: u32, comment: String },
    /// The step returns `version` to the drafter.
    Return { version: u32, comment: String },
    /// It went out at these places.
    Publish { places: Vec<(Place, Option<String>)> },
    /// The clock: overdue steps.
    Tick,
}

impl Event {
    /// Its name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Edit { .. } => "edit",
            Event::Submit => "submit",
            Event::Approve { .. } => "approve",
            Event::Return { .. } => "return",
            Event::Publish { .. } => "publish",
            Event::Tick => "tick",
        }
    }
}

/// Whether the actor qualifies for a step of a response of `unit`.
pub trait Qualifies {
    /// `spec` for a response of the case's `unit`.
    fn qualifies(&self, spec: &ApproverSpec, unit: &str) -> bool;
    /// Who should hear of a step (for notifications).
    fn people_for(&self, spec: &ApproverSpec, unit: &str) -> Vec<String>;
    /// The case unit's lead (overdue steps escalate to them).
    fn lead(&self, unit: &str) -> Option<String>;
}

/// Why an event was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseError {
    /// Not in this state.
    Transition { state: ResponseState, event: &'static str },
    /// The version decided on is not the current one.
    Superseded { version: u32, current: u32 },
    /// The actor wrote this version (or drafted the response).
    OwnDraft,
    /// The actor approved another step of this version.
    TwoSteps,
    /// The actor does not qualify for this step.
    NotApprover(String),
    /// Already approved this step.
    AlreadyApproved,
    /// A field is missing or wrong.
    Field(&'static str, String),
}

impl ResponseError {
    /// The English message.
    pub fn message_en(&self) -> String {
        match self {
            ResponseError::Transition { state, event } => format!("a {} response cannot take {event}", state.as_str()),
            ResponseError::Superseded { version, current } => {
                format!("version {version} is superseded: the current version is {current}")
            }
            ResponseError::OwnDraft => "nobody approves a draft they wrote".into(),
            ResponseError::TwoSteps => "one person approves one step of a version only".into(),
            ResponseError::NotApprover(s) => format!("you are not an approver of step {s}"),
            ResponseError::AlreadyApproved => "you approved this step already".into(),
            ResponseError::Field(f, m) => format!("{f}: {m}"),
        }
    }

    /// The Chinese message.
    pub fn message_zh(&self) -> String {
        match self {
            ResponseError::Transition { event, .. } => format!("当前状态不能执行 {event}"),
            ResponseError::Superseded { version, current } => format!("第 {version} 版已被第 {current} 版取代"),
            ResponseError::OwnDraft => "不能审批自己撰写的稿件".into(),
            ResponseError::TwoSteps => "同一版本一人只能审批一个环节".into(),
            ResponseError::NotApprover(s) => format!("您不是「{s}」环节的审批人"),
            ResponseError::AlreadyApproved => "您已审批过该环节".into(),
            ResponseError::Field(f, m) => format!("{f}：{m}"),
        }
    }
}

impl std::fmt::Display for ResponseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message_en())
    }
}

impl std::error::Error for ResponseError {}

/// A notification to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Notify {
    /// Unique key (the outbox keeps it once).
    pub key: String,
    /// To.
    pub to: Vec<String>,
    /// `approval_requested`, `returned`, `approved`, `overdue`.
    pub what: &'static str,
    /// The step's name.
    pub step: String,
}

/// What an accepted event did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Timeline lines of the case: kind and detail.
    pub entries: Vec<(String, serde_json::Value)>,
    /// Notifications.
    pub notify: Vec<Notify>,
    /// The approved text (title, body) to send to the organization's own channels.
    pub broadcast: Option<(String, String)>,
}

fn text_ok(field: &'static str, s: &str, max: usize) -> Result<(), ResponseError> {
    if s.trim().is_empty() {
        return Err(ResponseError::Field(field, "is required".into()));
    }
    if s.chars().count() > max {
        return Err(ResponseError::Field(field, format!("is longer than {max} characters")));
    }
    Ok(())
}

/// What a new response needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Kind.
    pub kind: ResponseKind,
    /// Language.
    pub lang: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Places.
    pub places: Vec<Place>,
    /// Audience.
    pub audience: String,
    /// The claim it clarifies.
    pub claim: Option<i64>,
    /// The published response it corrects.
    pub corrects: Option<i64>,
}

impl Response {
    /// A new response (version 1, a draft) on case `case_id` of `unit` with `chain`.
    pub fn new(
        id: i64,
        case_id: i64,
        unit: &str,
        d: Draft,
        chain: Chain,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<(Response, Outcome), ResponseError> {
        text_ok("title", &d.title, 200)?;
        text_ok("body", &d.body, 50_000)?;
        if !["zh", "en"].contains(&d.lang.as_str()) {
            return Err(ResponseError::Field("lang", "must be zh or en".into()));
        }
        if d.places.is_empty() {
            return Err(ResponseError::Field("places", "name at least one".into()));
        }
        let r = Response {
            id,
            case_id,
            unit: unit.into(),
            kind: d.kind,
            lang: d.lang,
            places: d.places,
            audience: d.audience,
            claim: d.claim,
            corrects: d.corrects,
            chain,
            state: ResponseState::Draft,
            versions: vec![Version { n: 1, title: d.title, body: d.body, by: who.into(), at: now }],
            step: 0,
            step_started: None,
            escalated: Vec::new(),
            decisions: Vec::new(),
            publications: Vec::new(),
            created_by: who.into(),
            created_at: now,
        };
        let mut out = Outcome::default();
        out.entries.push((
            "response_drafted".into(),
            json!({"response": id, "kind": r.kind, "chain": r.chain.name, "corrects": r.corrects}),
        ));
        Ok((r, out))
    }

    /// The current version.
    pub fn current(&self) -> &Version {
        self.versions.last().expect("a response has a version")
    }

    /// Approvals of the current version at `step`.
    fn approvals(&self, step: usize) -> Vec<&Decision> {
        let v = self.current().n;
        self.decisions.iter().filter(|d| d.version == v && d.step == step && d.approved).collect()
    }

    /// When the step under review is due.
    pub fn step_due(&self) -> Option<DateTime<Utc>> {
        let s = self.chain.steps.get(self.step)?;
        let start = self.step_started?;
        (self.state == ResponseState::InReview)
            .then(|| start + Duration::milliseconds((s.hours * 3_600_000.0).round() as i64))
    }

    /// Applies `event` by `who` at `now`; a refused event changes nothing.
    pub fn apply(
        &mut self,
        event: Event,
        who: &str,
        now: DateTime<Utc>,
        q: &dyn Qualifies,
    ) -> Result<Outcome, ResponseError> {
        let mut next = self.clone();
        let out = next.apply_inner(event, who, now, q)?;
        *self = next;
        Ok(out)
    }

    fn request(&self, out: &mut Outcome, q: &dyn Qualifies) {
        let s = &self.chain.steps[self.step];
        let v = self.current().n;
        let to: Vec<String> =
            q.people_for(&s.approver, &self.unit).into_iter().filter(|p| p != &self.created_by).collect();
        if !to.is_empty() {
            out.notify.push(Notify {
                key: format!("response:{}:v{v}:s{}:request", self.id, self.step),
                to,
                what: "approval_requested",
                step: s.name.clone(),
            });
        }
    }

    fn apply_inner(
        &mut self,
        event: Event,
        who: &str,
        now: DateTime<Utc>,
        q: &dyn Qualifies,
    ) -> Result<Outcome, ResponseError> {
        use ResponseState::*;
        let mut out = Outcome::default();
        let name = event.name();
        match (self.state, event) {
            (Draft | InReview | Approved, Event::Edit { title, body }) => {
                text_ok("title", &title, 200)?;
                text_ok("body", &body, 50_000)?;
                let n = self.current().n + 1;
                let restarted = self.state != Draft;
                self.versions.push(Version { n, title, body, by: who.into(), at: now });
                self.state = Draft;
                self.step = 0;
                self.step_started = None;
                out.entries.push((
                    "response_edited".into(),
                    json!({"response": self.id, "version": n, "restarted": restarted}),
                ));
            }
            (Draft, Event::Submit) => {
                self.state = InReview;
                self.step = 0;
                self.step_started = Some(now);
                out.entries.push((
                    "response_submitted".into(),
                    json!({"response": self.id, "version": self.current().n, "step": self.chain.steps[0].name}),
                ));
                self.request(&mut out, q);
            }
            (InReview, Event::Approve { version, comment }) | (InReview, Event::Return { version, comment })
                if version != self.current().n =>
            {
                let _ = comment;
                return Err(ResponseError::Superseded { version, current: self.current().n });
            }
            (InReview, Event::Approve { version, comment }) => {
                let step = self.step;
                let s = self.chain.steps[step].clone();
                if self.versions.iter().any(|v| v.by == who) || self.created_by == who {
                    return Err(ResponseError::OwnDraft);
                }
                if !q.qualifies(&s.approver, &self.unit) {
                    return Err(ResponseError::NotApprover(s.name));
                }
                if self.approvals(step).iter().any(|d| d.by == who) {
                    return Err(ResponseError::AlreadyApproved);
                }
                if self.decisions.iter().any(|d| d.version == version && d.approved && d.step != step && d.by == who) {
                    return Err(ResponseError::TwoSteps);
                }
                self.decisions.push(Decision { version, step, by: who.into(), at: now, approved: true, comment });
                out.entries.push((
                    "response_approved".into(),
                    json!({"response": self.id, "version": version, "step": s.name}),
                ));
                if self.approvals(step).len() as u32 >= s.required {
                    if step + 1 < self.chain.steps.len() {
                        self.step = step + 1;
                        self.step_started = Some(now);
                        self.request(&mut out, q);
                    } else {
                        self.state = Approved;
                        self.step_started = None;
                        out.entries
                            .push(("response_chain_complete".into(), json!({"response": self.id, "version": version})));
                        out.notify.push(Notify {
                            key: format!("response:{}:v{version}:approved", self.id),
                            to: vec![self.created_by.clone()],
                            what: "approved",
                            step: s.name,
                        });
                    }
                }
            }
            (InReview, Event::Return { version, comment }) => {
                let step = self.step;
                let s = self.chain.steps[step].clone();
                text_ok("comment", &comment, 5_000)?;
                if self.versions.iter().any(|v| v.by == who) {
                    return Err(ResponseError::OwnDraft);
                }
                if !q.qualifies(&s.approver, &self.unit) {
                    return Err(ResponseError::NotApprover(s.name));
                }
                self.decisions.push(Decision {
                    version,
                    step,
                    by: who.into(),
                    at: now,
                    approved: false,
                    comment: comment.clone(),
                });
                self.state = Draft;
                self.step = 0;
                self.step_started = None;
                out.entries.push((
                    "response_returned".into(),
                    json!({"response": self.id, "version": version, "step": s.name, "comment": comment}),
                ));
                out.notify.push(Notify {
                    key: format!("response:{}:v{version}:s{step}:returned", self.id),
                    to: vec![self.created_by.clone()],
                    what: "returned",
                    step: s.name,
                });
            }
            (Approved, Event::Publish { places }) => {
                if places.is_empty() {
                    return Err(ResponseError::Field("places", "name where it went out".into()));
                }
                for (place, url) in &places {
                    if let Some(u) = url {
                        if !(u.starts_with("https://") || u.starts_with("http://")) || u.len() > 2000 {
                            return Err(ResponseError::Field("url", format!("{u:?} is not an http(s) URL")));
                        }
                    }
                    self.publications.push(Publication { place: *place, url: url.clone(), at: now, by: who.into() });
                }
                self.state = Published;
                if places.iter().any(|(p, _)| *p == Place::OwnChannels) {
                    out.broadcast = Some((self.current().title.clone(), self.current().body.clone()));
                }
                out.entries.push((
                    "response_published".into(),
                    json!({"response": self.id, "version": self.current().n, "kind": self.kind, "claim": self.claim,
                        "places": places.iter().map(|(p, u)| json!({"place": p, "url": u})).collect::<Vec<_>>()}),
                ));
            }
            (InReview, Event::Tick) => {
                let v = self.current().n;
                if let Some(due) = self.step_due() {
                    if now >= due && !self.escalated.contains(&(v, self.step)) {
                        self.escalated.push((v, self.step));
                        let s = &self.chain.steps[self.step];
                        let mut to = q.people_for(&s.approver, &self.unit);
                        to.extend(q.lead(&self.unit));
                        to.sort();
                        to.dedup();
                        out.entries.push((
                            "response_overdue".into(),
                            json!({"response": self.id, "version": v, "step": s.name, "due_at": due, "escalated_to": to}),
                        ));
                        out.notify.push(Notify {
                            key: format!("response:{}:v{v}:s{}:overdue", self.id, self.step),
                            to,
                            what: "overdue",
                            step: s.name.clone(),
                        });
                    }
                }
            }
            (_, Event::Tick) => {}
            (state, _) => return Err(ResponseError::Transition { state, event: name }),
        }
        Ok(out)
    }
}
