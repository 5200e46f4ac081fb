//! Cases: the state machine that carries an issue from its first report to its review.
//!
//! A [`Case`] moves new → assessing → handling → monitoring → closed → reviewed, and may be
//! reopened (closed → handling). It changes only through [`Case::apply`], one exhaustive match
//! on (state, [`Event`]) with the clock and the directory passed in ([`Ctx`]): an event that does
//! not fit the state is a typed [`CaseError`] with a Chinese and an English message, and nothing
//! changes. Every accepted event returns the timeline [`Entry`]s it adds and the [`Effect`]s the
//! engine must carry out (notifications with unique keys, evidence holds, volume checks).
//!
//! Assessment sets a grade (IV 一般 … I 特别重大); grade II and above starts an escalation to the
//! leading group at once, grade I also asks the owner unit's first responsible person to
//! acknowledge. Classification picks a [`Playbook`]: its tasks, each with an owner role and a
//! deadline ([`DeadlineSpec`]) relative to the classification or to another task. [`Event::Tick`]
//! sends reminders before a deadline, records a miss and escalates it to the unit lead; each is
//! recorded on the task, so ticking twice for the same moment does nothing twice.

use crate::access::Role;
use crate::alerts::Severity;
use crate::calendar::{Calendar, Calendars};
use crate::escalation::{Escalation, Fired, Policy, Step, Target};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Where a case is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Opened, no first report yet.
    New,
    /// First report filed; being graded and classified (研判).
    Assessing,
    /// Classified; its playbook's tasks are running (分类处置).
    Handling,
    /// Tasks done; watched until it has calmed.
    Monitoring,
    /// Over; a review is written (总结评估).
    Closed,
    /// The review is approved by the owner unit's lead. Final.
    Reviewed,
}

impl CaseState {
    /// Every state, in order.
    pub const ALL: [CaseState; 6] = [
        CaseState::New,
        CaseState::Assessing,
        CaseState::Handling,
        CaseState::Monitoring,
        CaseState::Closed,
        CaseState::Reviewed,
    ];

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::New => "new",
            CaseState::Assessing => "assessing",
            CaseState::Handling => "handling",
            CaseState::Monitoring => "monitoring",
            CaseState::Closed => "closed",
            CaseState::Reviewed => "reviewed",
        }
    }

    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            CaseState::New => "新建",
            CaseState::Assessing => "研判中",
            CaseState::Handling => "处置中",
            CaseState::Monitoring => "跟踪观察",
            CaseState::Closed => "已结案",
            CaseState::Reviewed => "已评估",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Not closed or reviewed.
    pub fn is_open(self) -> bool {
        !matches!(self, CaseState::Closed | CaseState::Reviewed)
    }
}

/// The grade of a case, IV (lowest) to I (highest); ordered so that `Grade::I > Grade::IV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Grade {
    /// 一般.
    IV,
    /// 较大.
    III,
    /// 重大.
    II,
    /// 特别重大.
    I,
}

impl Grade {
    /// Every grade, lowest first.
    pub const ALL: [Grade; 4] = [Grade::IV, Grade::III, Grade::II, Grade::I];

    /// `IV`, `III`, `II`, `I`.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::IV => "IV",
            Grade::III => "III",
            Grade::II => "II",
            Grade::I => "I",
        }
    }

    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Grade::IV => "一般",
            Grade::III => "较大",
            Grade::II => "重大",
            Grade::I => "特别重大",
        }
    }

    /// Parses `IV` … `I`.
    pub fn parse(s: &str) -> Option<Grade> {
        Grade::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// The alert severity a case of this grade stands for (signals up to it are inhibited).
    pub fn severity(self) -> Severity {
        match self {
            Grade::IV => Severity::Low,
            Grade::III => Severity::Medium,
            Grade::II => Severity::High,
            Grade::I => Severity::Critical,
        }
    }

    /// Grade II or above: the leading group is told.
    pub fn is_major(self) -> bool {
        self >= Grade::II
    }
}

/// The four kinds of handling (分类处置).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// 询问/质疑/诉求: inquiry, doubt, appeal.
    Inquiry,
    /// 炒作: hype of a real event.
    Hype,
    /// 捏造/歪曲/诽谤: fabrication, distortion, defamation.
    Fabrication,
    /// 建设性意见: a constructive suggestion.
    Constructive,
}

impl Classification {
    /// Every classification.
    pub const ALL: [Classification; 4] =
        [Classification::Inquiry, Classification::Hype, Classification::Fabrication, Classification::Constructive];

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Inquiry => "inquiry",
            Classification::Hype => "hype",
            Classification::Fabrication => "fabrication",
            Classification::Constructive => "constructive",
        }
    }

    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Classification::Inquiry => "询问/质疑/诉求",
            Classification::Hype => "炒作",
            Classification::Fabrication => "捏造/歪曲/诽谤",
            Classification::Constructive => "建设性意见",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<Classification> {
        Classification::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What a task is, for the review (a published response) and for what completing it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Any other task.
    #[default]
    Task,
    /// An answer to the public (counts as a response published).
    Answer,
    /// Publishing facts or a statement (counts as a response published).
    Publish,
    /// A clarification of a fabrication (counts as a response published).
    Clarification,
    /// A record that the matter was referred to another office (discipline, legal).
    Referral,
    /// A claim entered in the claims registry.
    Claim,
    /// A decision on a suggestion: adopted, partly, not adopted, with the reason.
    Decision,
    /// An acknowledgement by a responsible person.
    Acknowledge,
}

impl TaskKind {
    /// Whether completing it means a response went out.
    pub fn is_response(self) -> bool {
        matches!(self, TaskKind::Answer | TaskKind::Publish | TaskKind::Clarification)
    }
}

/// When a task is due, counted from when it starts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadlineSpec {
    /// This many hours (at grade II and above when `hours_below_grade_ii` is also given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<f64>,
    /// Hours below grade II (ungraded counts as below).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_below_grade_ii: Option<f64>,
    /// By the end of the same local day (the unit's calendar).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub end_of_day: bool,
    /// By the close of the nth working day after (the unit's calendar).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_days: Option<u32>,
    /// By the date promised when the task it follows (`after`) was done.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub promised: bool,
}

impl DeadlineSpec {
    /// Exactly one way of counting, with sane numbers.
    pub fn check(&self) -> Result<(), String> {
        let ways = [self.hours.is_some(), self.end_of_day, self.working_days.is_some(), self.promised];
        if ways.iter().filter(|w| **w).count() != 1 {
            return Err("a deadline needs exactly one of hours, end_of_day, working_days, promised".into());
        }
        if self.hours_below_grade_ii.is_some() && self.hours.is_none() {
            return Err("hours_below_grade_ii needs hours".into());
        }
        for h in [self.hours, self.hours_below_grade_ii].into_iter().flatten() {
            if !(h > 0.0 && h <= 24.0 * 366.0) {
                return Err(format!("hours must be more than 0 and at most a year, not {h}"));
            }
        }
        if self.working_days.is_some_and(|d| d > 260) {
            return Err("working_days must be at most 260".into());
        }
        Ok(())
    }

    /// The due time of a task starting at `start`; `None` when it waits for a promised date that
    /// was not given.
    pub fn due(
        &self,
        start: DateTime<Utc>,
        grade: Option<Grade>,
        calendar: &Calendar,
        promised: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        if let Some(h) = self.hours {
            let h = match self.hours_below_grade_ii {
                Some(low) if !grade.is_some_and(Grade::is_major) => low,
                _ => h,
            };
            return Some(start + Duration::milliseconds((h * 3_600_000.0).round() as i64));
        }
        if self.end_of_day {
            return Some(calendar.end_of_day(start));
        }
        if let Some(n) = self.working_days {
            return Some(calendar.working_days_after(start, n));
        }
        promised
    }
}

/// A condition a task waits for after the task it follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// The case's story volume in the window after the task it follows was done did not fall
    /// below the volume in the same window before.
    VolumeNotFalling,
}

/// A task of a playbook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Unique within its playbook.
    pub key: String,
    /// What to do (Chinese).
    pub title: String,
    /// What to do (English).
    #[serde(default)]
    pub title_en: String,
    /// Who does it.
    pub role: Role,
    /// What kind of task.
    #[serde(default)]
    pub kind: TaskKind,
    /// When it is due.
    pub deadline: DeadlineSpec,
    /// Starts when this task of the same playbook is done (else at the classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Starts only if this holds, checked `window_hours` after `after` was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<When>,
    /// The window of `when`.
    #[serde(default = "day_hours")]
    pub window_hours: f64,
}

fn day_hours() -> f64 {
    24.0
}

/// The tasks for one classification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    /// The classification it handles.
    pub classification: Classification,
    /// The tasks.
    #[serde(rename = "task")]
    pub tasks: Vec<TaskSpec>,
}

/// `playbooks.toml`: one playbook per classification, when reminders go out, the leading group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Playbooks {
    /// Reminders to a task's owner at these fractions of its time (default 0.5 and 0.9).
    #[serde(default = "default_reminders")]
    pub reminders: Vec<f64>,
    /// The unit told of grade II and above (领导小组); the root of the unit tree when absent.
    #[serde(default)]
    pub leading_group: Option<String>,
    /// Minutes between the steps of a grade escalation.
    #[serde(default = "thirty")]
    pub escalation_minutes: f64,
    /// Hours the owner unit's first responsible person has to acknowledge a grade I case.
    #[serde(default = "one")]
    pub acknowledge_hours: f64,
    /// The playbooks.
    #[serde(default, rename = "playbook")]
    pub playbooks: Vec<Playbook>,
}

fn default_reminders() -> Vec<f64> {
    vec![0.5, 0.9]
}
fn thirty() -> f64 {
    30.0
}
fn one() -> f64 {
    1.0
}

fn task(key: &str, title: &str, title_en: &str, role: Role, kind: TaskKind, deadline: DeadlineSpec) -> TaskSpec {
    TaskSpec {
        key: key.into(),
        title: title.into(),
        title_en: title_en.into(),
        role,
        kind,
        deadline,
        after: None,
        when: None,
        window_hours: day_hours(),
    }
}

fn hours_by_grade(high: f64, low: f64) -> DeadlineSpec {
    DeadlineSpec { hours: Some(high), hours_below_grade_ii: Some(low), ..DeadlineSpec::default() }
}

impl Default for Playbooks {
    /// The defaults of the procedure.
    fn default() -> Self {
        use Classification::*;
        let inquiry = Playbook {
            classification: Inquiry,
            tasks: vec![
                task(
                    "reply_today",
                    "当日回复，或告知答复时限",
                    "Answer today, or say by when the answer will come",
                    Role::UnitLead,
                    TaskKind::Answer,
                    DeadlineSpec { end_of_day: true, ..DeadlineSpec::default() },
                ),
                TaskSpec {
                    after: Some("reply_today".into()),
                    ..task(
                        "answer",
                        "按告知的时限答复",
                        "Answer by the date given",
                        Role::UnitLead,
                        TaskKind::Answer,
                        DeadlineSpec { promised: true, ..DeadlineSpec::default() },
                    )
                },
            ],
        };
        let hype = Playbook {
            classification: Hype,
            tasks: vec![
                task(
                    "publish_facts",
                    "发布事实及处置情况",
                    "Publish the facts and how the event is being handled",
                    Role::Analyst,
                    TaskKind::Publish,
                    hours_by_grade(4.0, 24.0),
                ),
                TaskSpec {
                    after: Some("publish_facts".into()),
                    when: Some(When::VolumeNotFalling),
                    ..task(
                        "refer_discipline",
                        "热度未降：移交纪检或法务部门",
                        "Volume did not fall: refer to the discipline or legal office",
                        Role::UnitLead,
                        TaskKind::Referral,
                        DeadlineSpec { hours: Some(24.0), ..DeadlineSpec::default() },
                    )
                },
            ],
        };
        let fabrication = Playbook {
            classification: Fabrication,
            tasks: vec![
                task(
                    "register_claim",
                    "登记不实说法",
                    "Enter the claim in the claims registry",
                    Role::Analyst,
                    TaskKind::Claim,
                    hours_by_grade(2.0, 8.0),
                ),
                task(
                    "clarify",
                    "发布澄清",
                    "Publish a clarification",
                    Role::Analyst,
                    TaskKind::Clarification,
                    hours_by_grade(4.0, 24.0),
                ),
                task(
                    "refer_legal",
                    "移交法务部门（记录移交）",
                    "Refer to the legal office (a record of the referral)",
                    Role::UnitLead,
                    TaskKind::Referral,
                    DeadlineSpec { working_days: Some(1), ..DeadlineSpec::default() },
                ),
            ],
        };
        let constructive = Playbook {
            classification: Constructive,
            tasks: vec![
                task(
                    "decide",
                    "作出采纳决定（采纳、部分采纳、不采纳及理由）",
                    "Decide: adopted, partly, not adopted, with the reason",
                    Role::UnitLead,
                    TaskKind::Decision,
                    DeadlineSpec { working_days: Some(5), ..DeadlineSpec::default() },
                ),
                task(
                    "reply_proposer",
                    "答复建议人",
                    "Reply to the proposer",
                    Role::UnitLead,
                    TaskKind::Answer,
                    DeadlineSpec { working_days: Some(5), ..DeadlineSpec::default() },
                ),
            ],
        };
        Playbooks {
            reminders: default_reminders(),
            leading_group: None,
            escalation_minutes: thirty(),
            acknowledge_hours: one(),
            playbooks: vec![inquiry, hype, fabrication, constructive],
        }
    }
}

impl Playbooks {
    /// Every classification has exactly one playbook, task keys are unique, `after` names an
    /// earlier task, deadlines count one way, reminders lie strictly between 0 and 1.
    pub fn check(&self) -> Result<(), String> {
        for r in &self.reminders {
            if !(*r > 0.0 && *r < 1.0) {
                return Err(format!("reminders: {r} is not between 0 and 1"));
            }
        }
        let within = |x: f64, max: f64| x.is_finite() && x > 0.0 && x <= max;
        if !within(self.escalation_minutes, 7.0 * 24.0 * 60.0) || !within(self.acknowledge_hours, 7.0 * 24.0) {
            return Err("escalation_minutes and acknowledge_hours must be more than 0 and at most a week".into());
        }
        for c in Classification::ALL {
            let n = self.playbooks.iter().filter(|p| p.classification == c).count();
            if n != 1 {
                return Err(format!("classification {}: {n} playbooks, need exactly one", c.as_str()));
            }
        }
        for p in &self.playbooks {
            let c = p.classification.as_str();
            if p.tasks.is_empty() {
                return Err(format!("playbook {c}: no tasks"));
            }
            for (i, t) in p.tasks.iter().enumerate() {
                if t.key.trim().is_empty() || t.title.trim().is_empty() {
                    return Err(format!("playbook {c} task {}: key and title are required", i + 1));
                }
                if p.tasks[..i].iter().any(|x| x.key == t.key) {
                    return Err(format!("playbook {c}: task {} appears twice", t.key));
                }
                t.deadline.check().map_err(|e| format!("playbook {c} task {}: {e}", t.key))?;
                match &t.after {
                    Some(a) if !p.tasks[..i].iter().any(|x| &x.key == a) => {
                        return Err(format!("playbook {c} task {}: after {a:?} names no earlier task", t.key))
                    }
                    None if t.deadline.promised || t.when.is_some() => {
                        return Err(format!("playbook {c} task {}: promised and when need after", t.key))
                    }
                    _ => {}
                }
                if !(t.window_hours > 0.0 && t.window_hours <= 24.0 * 31.0) {
                    return Err(format!("playbook {c} task {}: window_hours must be in (0, 744]", t.key));
                }
            }
        }
        Ok(())
    }

    /// The playbook of a classification.
    pub fn of(&self, c: Classification) -> Option<&Playbook> {
        self.playbooks.iter().find(|p| p.classification == c)
    }
}

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waits for the task it follows (or its condition).
    Waiting,
    /// Running against its deadline.
    Open,
    /// Done.
    Done,
    /// Not needed (reclassified, answered on the day, volume fell).
    Cancelled,
}

/// A task of a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Task {
    /// The playbook's key (unique within the case together with `round`).
    pub key: String,
    /// Which classification of the case it belongs to (1 for the first).
    pub round: u32,
    /// What to do.
    pub title: String,
    /// What to do, in English.
    pub title_en: String,
    /// Who does it.
    pub role: Role,
    /// What kind.
    pub kind: TaskKind,
    /// How its deadline counts.
    pub deadline: DeadlineSpec,
    /// The task it follows.
    pub after: Option<String>,
    /// Its condition.
    pub when: Option<When>,
    /// The window of its condition.
    pub window_hours: f64,
    /// Where it is.
    pub state: TaskState,
    /// A person it is assigned to; else the owner unit's lead (unit_lead tasks) or the case owner.
    pub owner: Option<String>,
    /// When its clock started.
    pub starts_at: Option<DateTime<Utc>>,
    /// When it is due.
    pub due_at: Option<DateTime<Utc>>,
    /// When its condition is checked.
    pub check_at: Option<DateTime<Utc>>,
    /// Done when and by whom.
    pub done_at: Option<DateTime<Utc>>,
    /// Who did it.
    pub done_by: Option<String>,
    /// What was done.
    pub note: String,
    /// A date promised for the answer (the inquiry playbook).
    pub promised_by: Option<DateTime<Utc>>,
    /// The decision on a suggestion.
    pub decision: Option<String>,
    /// Reminders sent, as thousandths of the time (500, 900).
    pub reminded: Vec<u32>,
    /// When the miss was recorded.
    pub missed_at: Option<DateTime<Utc>>,
}

impl Task {
    /// `key` or `key#round` for tasks of a later classification.
    pub fn id(&self) -> String {
        if self.round <= 1 {
            self.key.clone()
        } else {
            format!("{}#{}", self.key, self.round)
        }
    }

    fn from_spec(s: &TaskSpec, round: u32) -> Task {
        Task {
            key: s.key.clone(),
            round,
            title: s.title.clone(),
            title_en: s.title_en.clone(),
            role: s.role,
            kind: s.kind,
            deadline: s.deadline.clone(),
            after: s.after.clone(),
            when: s.when,
            window_hours: s.window_hours,
            state: TaskState::Waiting,
            owner: None,
            starts_at: None,
            due_at: None,
            check_at: None,
            done_at: None,
            done_by: None,
            note: String::new(),
            promised_by: None,
            decision: None,
            reminded: Vec::new(),
            missed_at: None,
        }
    }
}

/// A first or follow-up report (首报, 续报).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// When it started.
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
    /// Where.
    #[serde(default)]
    pub place: String,
    /// Units involved.
    #[serde(default)]
    pub units: Vec<String>,
    /// Groups of people involved, by role ("students of 化工系"), never a private person.
    #[serde(default)]
    pub groups: Vec<String>,
    /// How it is developing.
    #[serde(default)]
    pub development: String,
    /// Who reported it.
    #[serde(default)]
    pub reporter: String,
    /// Anything else.
    #[serde(default)]
    pub text: String,
}

/// A filed report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    /// When.
    pub at: DateTime<Utc>,
    /// Who filed it.
    pub by: String,
    /// The first report (首报) or a follow-up (续报).
    pub first: bool,
    /// What it says.
    pub body: ReportBody,
}

/// A grade given, with its assessment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GradeRecord {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub by: String,
    /// The grade.
    pub grade: Grade,
    /// The assessment (研判意见).
    pub assessment: String,
}

/// A classification given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClassRecord {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub by: String,
    /// The classification.
    pub classification: Classification,
    /// Why (required when it replaces another).
    pub reason: String,
}

/// What evidence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A stored item.
    Item,
    /// A story.
    Story,
}

/// A piece of evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evidence {
    /// Item or story.
    pub kind: EvidenceKind,
    /// Its id.
    pub id: i64,
    /// Who added it.
    pub added_by: String,
    /// When.
    pub added_at: DateTime<Utc>,
}

/// The analyst's part of the review.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewNotes {
    /// What worked.
    #[serde(default)]
    pub worked: String,
    /// Lessons.
    #[serde(default)]
    pub lessons: String,
    /// Follow-up actions; one may propose a change to a topic rule.
    #[serde(default)]
    pub actions: Vec<ReviewAction>,
}

/// A follow-up action of a review: `"text"`, or `{"text", "topic", "rule"}` to propose a rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(from = "ReviewActionIn")]
pub struct ReviewAction {
    /// What to do.
    pub text: String,
    /// A topic whose rule it proposes to change…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// …to this draft rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The draft's backtest against the current rule (filled by the engine when submitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backtest: Option<serde_json::Value>,
    /// The admin's decision on the proposed rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<ProposalDecision>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum ReviewActionIn {
    Text(String),
    Full(ReviewActionFull),
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReviewActionFull {
    text: String,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    backtest: Option<serde_json::Value>,
    #[serde(default)]
    decision: Option<ProposalDecision>,
}

impl From<ReviewActionIn> for ReviewAction {
    fn from(a: ReviewActionIn) -> ReviewAction {
        match a {
            ReviewActionIn::Text(text) => ReviewAction { text, ..ReviewAction::default() },
            ReviewActionIn::Full(f) => {
                ReviewAction { text: f.text, topic: f.topic, rule: f.rule, backtest: f.backtest, decision: f.decision }
            }
        }
    }
}

/// An admin's decision on a proposed rule change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProposalDecision {
    /// Accepted (the topic was saved with the rule) or rejected.
    pub accepted: bool,
    /// Who decided.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

/// A submitted review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Review {
    /// The notes.
    pub notes: ReviewNotes,
    /// Who submitted it.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who approved it, when.
    pub approved: Option<(String, DateTime<Utc>)>,
}

/// A case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Case {
    /// Its id.
    pub id: i64,
    /// A short title.
    pub title: String,
    /// Where it is.
    pub state: CaseState,
    /// The owner unit.
    pub unit: String,
    /// The owner person.
    pub owner: Option<String>,
    /// Other people working on it.
    pub participants: Vec<String>,
    /// When it was opened and by whom.
    pub opened_at: DateTime<Utc>,
    /// Who opened it.
    pub opened_by: String,
    /// The alert it was opened from.
    pub alert: Option<i64>,
    /// When the issue was first detected (the alert's first signal), for the time to acknowledge.
    #[serde(default)]
    pub detected_at: Option<DateTime<Utc>>,
    /// Signals up to this severity on its stories are inhibited (raised by grade).
    pub severity: Severity,
    /// Reports, first first.
    pub reports: Vec<Report>,
    /// Every grade given.
    pub grades: Vec<GradeRecord>,
    /// Every classification given; the last is in force.
    pub classifications: Vec<ClassRecord>,
    /// The tasks of every classification.
    pub tasks: Vec<Task>,
    /// Linked items and stories.
    pub evidence: Vec<Evidence>,
    /// The grade escalation (grade II and above), until acknowledged.
    pub escalation: Option<Escalation>,
    /// The review.
    pub review: Option<Review>,
    /// Reviews of earlier closes (a reopened case keeps them).
    #[serde(default)]
    pub past_reviews: Vec<Review>,
    /// When it was last closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// When it was first closed.
    pub first_closed_at: Option<DateTime<Utc>>,
    /// Times reopened.
    pub reopened: u32,
    /// The last signal on its stories seen.
    pub last_signal: i64,
    /// Signals on its stories since it opened.
    pub signals: u32,
}

/// What the opener gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Opening {
    /// Title.
    pub title: String,
    /// Owner unit.
    pub unit: String,
    /// Owner person.
    pub owner: Option<String>,
    /// The alert it comes from.
    pub alert: Option<i64>,
    /// The alert's severity (else medium).
    pub severity: Option<Severity>,
    /// When the alert first fired.
    pub detected_at: Option<DateTime<Utc>>,
    /// Signals up to this id came before the case (its timeline takes later ones only).
    pub signals_before: i64,
    /// Evidence to start with.
    pub evidence: Vec<(EvidenceKind, i64)>,
}

/// Something that happens to a case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    /// A first report (the first) or a follow-up.
    Report(ReportBody),
    /// A grade with its assessment.
    Assess { grade: Grade, assessment: String },
    /// A classification; a reason is needed to change one.
    Classify { classification: Classification, reason: String },
    /// A task done.
    CompleteTask { task: String, note: String, promised_by: Option<DateTime<Utc>>, decision: Option<String> },
    /// A task given to a person.
    ReassignTask { task: String, to: String },
    /// The grade escalation acknowledged.
    Acknowledge,
    /// Evidence added.
    AddEvidence { kind: EvidenceKind, id: i64 },
    /// Evidence removed.
    RemoveEvidence { kind: EvidenceKind, id: i64 },
    /// A later signal on one of its stories.
    Signal { id: i64, severity: Severity, title: String },
    /// Title, owner or participants changed.
    Update { title: Option<String>, owner: Option<String>, participants: Option<Vec<String>> },
    /// Handling done; watching.
    Monitor,
    /// Closed with a summary.
    Close { summary: String },
    /// Reopened with a reason.
    Reopen { reason: String },
    /// The review notes.
    SubmitReview(ReviewNotes),
    /// The review approved.
    ApproveReview,
    /// An admin accepts or rejects the rule change proposed by follow-up action `action`.
    DecideProposal { action: usize, accept: bool, reason: String },
    /// The clock: reminders, misses, escalation steps, conditions due.
    Tick,
    /// The answer to [`Effect::CheckVolume`].
    VolumeChecked { task: String, before: i64, after: i64 },
}

impl Event {
    /// The event's name (timeline, audit, errors).
    pub fn name(&self) -> &'static str {
        match self {
            Event::Report(_) => "report",
            Event::Assess { .. } => "assess",
            Event::Classify { .. } => "classify",
            Event::CompleteTask { .. } => "complete_task",
            Event::ReassignTask { .. } => "reassign_task",
            Event::Acknowledge => "acknowledge",
            Event::AddEvidence { .. } => "add_evidence",
            Event::RemoveEvidence { .. } => "remove_evidence",
            Event::Signal { .. } => "signal",
            Event::Update { .. } => "update",
            Event::Monitor => "monitor",
            Event::Close { .. } => "close",
            Event::Reopen { .. } => "reopen",
            Event::SubmitReview(_) => "submit_review",
            Event::ApproveReview => "approve_review",
            Event::DecideProposal { .. } => "decide_proposal",
            Event::Tick => "tick",
            Event::VolumeChecked { .. } => "volume_checked",
        }
    }
}

/// One line of a case's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Entry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`None`: the clock).
    pub who: Option<String>,
    /// What: `opened`, `report`, `follow_up`, `assessment`, `grade_changed`, `classification`,
    /// `reclassified`, `task_started`, `task_done`, `task_reassigned`, `task_cancelled`,
    /// `reminder`, `deadline_met`, `deadline_missed`, `escalation`, `acknowledged`,
    /// `evidence_added`, `evidence_removed`, `signal`, `updated`, `monitoring`, `closed`,
    /// `reopened`, `review_submitted`, `reviewed`, `volume_checked`.
    pub kind: String,
    /// Its details.
    pub detail: serde_json::Value,
}

/// What a notification is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "notice")]
pub enum Notice {
    /// A step of the grade escalation.
    Grade { grade: Grade, round: u32, step: usize },
    /// A reminder of a task's deadline.
    Reminder { task: String, permille: u32, due_at: DateTime<Utc> },
    /// A task's deadline passed.
    Missed { task: String, due_at: DateTime<Utc> },
    /// A task was started for this person (assigned or acknowledgement asked).
    Assigned { task: String, due_at: Option<DateTime<Utc>> },
}

/// What the engine must do after an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Notify these people; `key` is unique for this notice (the outbox keeps it once).
    Notify { key: String, to: Vec<String>, notice: Notice },
    /// Keep this item from retention while the case is open.
    Hold(i64),
    /// Release the case's holds (closed).
    ReleaseHolds,
    /// Count the case's story items in `[before, at)` and `[at, after)` and answer with
    /// [`Event::VolumeChecked`].
    CheckVolume { task: String, before: DateTime<Utc>, at: DateTime<Utc>, after: DateTime<Utc> },
}

/// Who is who, as the machine needs it.
pub trait Directory {
    /// The lead of a unit (direct responsible person, else first responsible).
    fn lead(&self, unit: &str) -> Option<String>;
    /// The first responsible person (第一责任人) of a unit.
    fn first_responsible(&self, unit: &str) -> Option<String>;
    /// The root of the unit tree, when there is exactly one.
    fn root(&self) -> Option<String>;
    /// Whether a person exists.
    fn has_person(&self, id: &str) -> bool;
}

/// What [`Case::apply`] is given besides the event.
pub struct Ctx<'a> {
    /// Now.
    pub now: DateTime<Utc>,
    /// Who acts (`None`: the clock).
    pub who: Option<&'a str>,
    /// Working calendars.
    pub calendars: &'a Calendars,
    /// Playbooks.
    pub playbooks: &'a Playbooks,
    /// Units and people.
    pub directory: &'a dyn Directory,
}

/// Why an event was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseError {
    /// The event does not apply in this state.
    Transition { state: CaseState, event: &'static str },
    /// Classification needs a grade first.
    NeedsGrade,
    /// Changing the classification needs a reason.
    ReasonRequired,
    /// Already classified so.
    SameClassification,
    /// No such task.
    NoTask(String),
    /// The task is waiting, done or cancelled.
    TaskNotOpen(String),
    /// A decision task needs `adopted`, `partly` or `not_adopted` and a reason.
    NeedsDecision(String),
    /// These tasks are still open.
    TasksOpen(Vec<String>),
    /// No escalation is running.
    NothingToAcknowledge,
    /// No review was submitted.
    NoReview,
    /// The evidence is already there / not there.
    Evidence(String),
    /// A field is missing or wrong.
    Field(&'static str, String),
    /// No person with this id.
    NoPerson(String),
}

impl CaseError {
    /// The English message.
    pub fn message_en(&self) -> String {
        match self {
            CaseError::Transition { state, event } => {
                format!("a {state} case cannot take {event}", state = state.as_str())
            }
            CaseError::NeedsGrade => "grade the case before classifying it".into(),
            CaseError::ReasonRequired => "changing the classification needs a reason".into(),
            CaseError::SameClassification => "the case already has this classification".into(),
            CaseError::NoTask(t) => format!("no task {t}"),
            CaseError::TaskNotOpen(t) => format!("task {t} is not open"),
            CaseError::NeedsDecision(t) => {
                format!("task {t} needs a decision (adopted, partly, not_adopted) and the reason in the note")
            }
            CaseError::TasksOpen(t) => format!("tasks still open: {}", t.join(", ")),
            CaseError::NothingToAcknowledge => "no escalation is running on this case".into(),
            CaseError::NoReview => "submit the review before approving it".into(),
            CaseError::Evidence(m) => m.clone(),
            CaseError::Field(f, m) => format!("{f}: {m}"),
            CaseError::NoPerson(p) => format!("no person {p}"),
        }
    }

    /// The Chinese message.
    pub fn message_zh(&self) -> String {
        match self {
            CaseError::Transition { state, event } => {
                format!("{}状态的事件不能执行 {event}", state.name_zh())
            }
            CaseError::NeedsGrade => "请先定级再分类".into(),
            CaseError::ReasonRequired => "更改分类须说明理由".into(),
            CaseError::SameClassification => "事件已是该分类".into(),
            CaseError::NoTask(t) => format!("没有任务 {t}"),
            CaseError::TaskNotOpen(t) => format!("任务 {t} 未在进行中"),
            CaseError::NeedsDecision(t) => format!("任务 {t} 须给出决定（采纳、部分采纳、不采纳）及理由"),
            CaseError::TasksOpen(t) => format!("仍有未完成的任务：{}", t.join("、")),
            CaseError::NothingToAcknowledge => "该事件没有进行中的升级".into(),
            CaseError::NoReview => "请先提交总结评估再审批".into(),
            CaseError::Evidence(m) => format!("证据：{m}"),
            CaseError::Field(f, m) => format!("{f}：{m}"),
            CaseError::NoPerson(p) => format!("没有人员 {p}"),
        }
    }
}

impl std::fmt::Display for CaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message_en())
    }
}

impl std::error::Error for CaseError {}

/// What an accepted event did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Timeline lines added.
    pub entries: Vec<Entry>,
    /// What the engine must do.
    pub effects: Vec<Effect>,
}

impl Outcome {
    fn entry(&mut self, ctx: &Ctx<'_>, kind: &str, detail: serde_json::Value) {
        self.entries.push(Entry { at: ctx.now, who: ctx.who.map(str::to_string), kind: kind.into(), detail });
    }
}

fn required(field: &'static str, s: &str) -> Result<(), CaseError> {
    if s.trim().is_empty() {
        return Err(CaseError::Field(field, "is required".into()));
    }
    if s.chars().count() > 20_000 {
        return Err(CaseError::Field(field, "is longer than 20,000 characters".into()));
    }
    Ok(())
}

impl Case {
    /// Opens a case at `ctx.now`.
    pub fn open(id: i64, o: Opening, ctx: &Ctx<'_>) -> Result<(Case, Outcome), CaseError> {
        required("title", &o.title)?;
        if o.title.chars().count() > 200 {
            return Err(CaseError::Field("title", "is longer than 200 characters".into()));
        }
        required("unit", &o.unit)?;
        if let Some(p) = &o.owner {
            if !ctx.directory.has_person(p) {
                return Err(CaseError::NoPerson(p.clone()));
            }
        }
        let who = ctx.who.unwrap_or("system").to_string();
        let mut case = Case {
            id,
            title: o.title.trim().to_string(),
            state: CaseState::New,
            unit: o.unit.clone(),
            owner: o.owner.clone(),
            participants: Vec::new(),
            opened_at: ctx.now,
            opened_by: who.clone(),
            alert: o.alert,
            detected_at: o.detected_at,
            severity: o.severity.unwrap_or(Severity::Medium),
            reports: Vec::new(),
            grades: Vec::new(),
            classifications: Vec::new(),
            tasks: Vec::new(),
            evidence: Vec::new(),
            escalation: None,
            review: None,
            past_reviews: Vec::new(),
            closed_at: None,
            first_closed_at: None,
            reopened: 0,
            last_signal: o.signals_before,
            signals: 0,
        };
        let mut out = Outcome::default();
        out.entry(
            ctx,
            "opened",
            json!({"title": case.title, "unit": case.unit, "owner": case.owner, "alert": case.alert}),
        );
        for (kind, eid) in o.evidence {
            if !case.evidence.iter().any(|e| e.kind == kind && e.id == eid) {
                case.add_evidence(kind, eid, ctx, &mut out);
            }
        }
        Ok((case, out))
    }

    /// The grade in force.
    pub fn grade(&self) -> Option<Grade> {
        self.grades.last().map(|g| g.grade)
    }

    /// The classification in force.
    pub fn classification(&self) -> Option<Classification> {
        self.classifications.last().map(|c| c.classification)
    }

    /// The round of the classification in force (0 when unclassified).
    pub fn round(&self) -> u32 {
        self.classifications.len() as u32
    }

    /// The stories linked as evidence.
    pub fn stories(&self) -> Vec<i64> {
        self.evidence.iter().filter(|e| e.kind == EvidenceKind::Story).map(|e| e.id).collect()
    }

    /// Open tasks past their deadline at `now`.
    pub fn overdue(&self, now: DateTime<Utc>) -> Vec<&Task> {
        self.tasks.iter().filter(|t| t.state == TaskState::Open && t.due_at.is_some_and(|d| d < now)).collect()
    }

    /// The next moment [`Event::Tick`] has something to do (a reminder, a deadline, a condition,
    /// an escalation step); `None` when nothing is pending.
    pub fn next_due(&self, reminders: &[f64]) -> Option<DateTime<Utc>> {
        let mut next: Option<DateTime<Utc>> = self.escalation.as_ref().and_then(|e| e.next_at);
        let mut consider = |t: DateTime<Utc>| next = Some(next.map_or(t, |n| n.min(t)));
        if !self.state.is_open() {
            return None;
        }
        for t in &self.tasks {
            match t.state {
                TaskState::Open => {
                    if let (Some(start), Some(due)) = (t.starts_at, t.due_at) {
                        for r in reminders {
                            let pm = permille(*r);
                            if !t.reminded.contains(&pm) {
                                consider(fraction(start, due, *r).min(due));
                            }
                        }
                        if t.missed_at.is_none() {
                            consider(due);
                        }
                    }
                }
                TaskState::Waiting => {
                    if let Some(c) = t.check_at {
                        consider(c);
                    }
                }
                TaskState::Done | TaskState::Cancelled => {}
            }
        }
        next
    }

    /// Applies `event` at `ctx.now`: the new state and data, the timeline lines and the effects;
    /// or a typed error and no change at all.
    pub fn apply(&mut self, event: Event, ctx: &Ctx<'_>) -> Result<Outcome, CaseError> {
        let mut next = self.clone();
        let out = next.apply_inner(event, ctx)?;
        *self = next;
        Ok(out)
    }

    fn apply_inner(&mut self, event: Event, ctx: &Ctx<'_>) -> Result<Outcome, CaseError> {
        use CaseState::*;
        let mut out = Outcome::default();
        let who = ctx.who.unwrap_or("system").to_string();
        let refuse = |state: CaseState, e: &Event| CaseError::Transition { state, event: e.name() };
        match (self.state, event) {
            (New, Event::Report(body)) => {
                check_report(&body)?;
                self.reports.push(Report { at: ctx.now, by: who, first: true, body: body.clone() });
                self.state = Assessing;
                out.entry(ctx, "report", json!({"first": true, "report": body}));
            }
            (Assessing | Handling | Monitoring, Event::Report(body)) => {
                check_report(&body)?;
                self.reports.push(Report { at: ctx.now, by: who, first: false, body: body.clone() });
                out.entry(ctx, "follow_up", json!({"report": body}));
            }
            (Assessing | Handling | Monitoring, Event::Assess { grade, assessment }) => {
                required("assessment", &assessment)?;
                let before = self.grade();
                self.grades.push(GradeRecord { at: ctx.now, by: who, grade, assessment: assessment.clone() });
                let kind = if before.is_some_and(|b| b != grade) { "grade_changed" } else { "assessment" };
                out.entry(
                    ctx,
                    kind,
                    json!({"grade": grade.as_str(), "before": before.map(Grade::as_str), "assessment": assessment}),
                );
                self.severity = self.severity.max(grade.severity());
                let rose = before.is_none_or(|b| grade > b);
                if grade.is_major() && rose && before.is_none_or(|b| !b.is_major() || grade == Grade::I) {
                    self.start_grade_escalation(grade, ctx, &mut out);
                }
                if grade == Grade::I && before != Some(Grade::I) {
                    self.ask_first_responsible(ctx, &mut out);
                }
            }
            (Assessing, Event::Classify { classification, reason }) => {
                if self.grade().is_none() {
                    return Err(CaseError::NeedsGrade);
                }
                self.classify(classification, reason, ctx, &mut out)?;
                self.state = Handling;
            }
            (Handling | Monitoring, Event::Classify { classification, reason }) => {
                if self.classification() == Some(classification) {
                    return Err(CaseError::SameClassification);
                }
                if reason.trim().is_empty() {
                    return Err(CaseError::ReasonRequired);
                }
                self.classify(classification, reason, ctx, &mut out)?;
                self.state = Handling;
            }
            (Handling | Monitoring, Event::CompleteTask { task, note, promised_by, decision }) => {
                self.complete(&task, note, promised_by, decision, ctx, &mut out)?;
            }
            (Handling | Monitoring, Event::ReassignTask { task, to }) => {
                if !ctx.directory.has_person(&to) {
                    return Err(CaseError::NoPerson(to));
                }
                let t = self.task_mut(&task)?;
                if matches!(t.state, TaskState::Done | TaskState::Cancelled) {
                    return Err(CaseError::TaskNotOpen(task));
                }
                let before = t.owner.replace(to.clone());
                let due = t.due_at;
                let round = t.round;
                out.entry(ctx, "task_reassigned", json!({"task": task, "from": before, "to": to}));
                out.effects.push(Effect::Notify {
                    key: format!("case:{}:assign:{task}:{round}:{to}:{}", self.id, ctx.now.timestamp_millis()),
                    to: vec![to],
                    notice: Notice::Assigned { task, due_at: due },
                });
            }
            (New | Assessing | Handling | Monitoring, Event::Acknowledge) => {
                let Some(e) = self.escalation.as_mut().filter(|e| e.next_at.is_some()) else {
                    return Err(CaseError::NothingToAcknowledge);
                };
                e.acknowledge(&who, ctx.now);
                out.entry(ctx, "acknowledged", json!({}));
            }
            (New | Assessing | Handling | Monitoring, Event::AddEvidence { kind, id }) => {
                if self.evidence.iter().any(|e| e.kind == kind && e.id == id) {
                    return Err(CaseError::Evidence(format!("{kind:?} {id} is already evidence")));
                }
                self.add_evidence(kind, id, ctx, &mut out);
            }
            (New | Assessing | Handling | Monitoring, Event::RemoveEvidence { kind, id }) => {
                let before = self.evidence.len();
                self.evidence.retain(|e| !(e.kind == kind && e.id == id));
                if self.evidence.len() == before {
                    return Err(CaseError::Evidence(format!("{kind:?} {id} is not evidence")));
                }
                out.entry(ctx, "evidence_removed", json!({"kind": kind, "id": id}));
            }
            (New | Assessing | Handling | Monitoring, Event::Signal { id, severity, title }) => {
                if id > self.last_signal {
                    self.last_signal = id;
                    self.signals += 1;
                    out.entry(ctx, "signal", json!({"signal": id, "severity": severity, "title": title}));
                }
            }
            (state, Event::Update { title, owner, participants }) if state != Reviewed => {
                if let Some(t) = &title {
                    required("title", t)?;
                }
                if let Some(p) =
                    owner.iter().chain(participants.iter().flatten()).find(|p| !ctx.directory.has_person(p))
                {
                    return Err(CaseError::NoPerson(p.clone()));
                }
                let detail = json!({"title": title, "owner": owner, "participants": participants});
                if let Some(t) = title {
                    self.title = t.trim().to_string();
                }
                if let Some(o) = owner {
                    self.owner = Some(o);
                }
                if let Some(p) = participants {
                    self.participants = p;
                }
                out.entry(ctx, "updated", detail);
            }
            (Handling, Event::Monitor) => {
                self.no_open_tasks()?;
                self.state = Monitoring;
                out.entry(ctx, "monitoring", json!({}));
            }
            (Assessing | Handling | Monitoring, Event::Close { summary }) => {
                required("summary", &summary)?;
                self.no_open_tasks()?;
                self.state = Closed;
                self.closed_at = Some(ctx.now);
                self.first_closed_at.get_or_insert(ctx.now);
                if let Some(e) = self.escalation.as_mut() {
                    if e.next_at.is_some() {
                        e.acknowledge(&who, ctx.now);
                    }
                }
                out.entry(ctx, "closed", json!({"summary": summary}));
                out.effects.push(Effect::ReleaseHolds);
            }
            (Closed, Event::Reopen { reason }) => {
                required("reason", &reason)?;
                // Back to handling; a case closed before it was classified goes back to assessing.
                self.state = if self.classification().is_some() { Handling } else { Assessing };
                self.reopened += 1;
                self.closed_at = None;
                if let Some(r) = self.review.take() {
                    self.past_reviews.push(r);
                }
                out.entry(ctx, "reopened", json!({"reason": reason}));
                for e in &self.evidence {
                    if e.kind == EvidenceKind::Item {
                        out.effects.push(Effect::Hold(e.id));
                    }
                }
            }
            (Closed, Event::SubmitReview(mut notes)) => {
                if notes.worked.trim().is_empty() && notes.lessons.trim().is_empty() {
                    return Err(CaseError::Field("review", "say what worked or the lessons".into()));
                }
                for a in &mut notes.actions {
                    required("action", &a.text)?;
                    if a.topic.is_some() != a.rule.is_some() {
                        return Err(CaseError::Field("action", "a proposed rule needs both topic and rule".into()));
                    }
                    // Decisions come later, from an admin.
                    a.decision = None;
                }
                out.entry(ctx, "review_submitted", json!({"notes": notes}));
                // A review submitted again replaces the one in force; the earlier is kept.
                if let Some(r) = self.review.take() {
                    self.past_reviews.push(r);
                }
                self.review = Some(Review { notes, by: who, at: ctx.now, approved: None });
            }
            (Closed, Event::ApproveReview) => {
                let Some(r) = self.review.as_mut() else { return Err(CaseError::NoReview) };
                r.approved = Some((who, ctx.now));
                self.state = Reviewed;
                out.entry(ctx, "reviewed", json!({}));
            }
            (Closed | Reviewed, Event::DecideProposal { action, accept, reason }) => {
                let Some(a) = self.review.as_mut().and_then(|r| r.notes.actions.get_mut(action)) else {
                    return Err(CaseError::Field("action", format!("no follow-up action {action}")));
                };
                if a.rule.is_none() {
                    return Err(CaseError::Field("action", format!("action {action} proposes no rule")));
                }
                if a.decision.is_some() {
                    return Err(CaseError::Field("action", format!("action {action} is decided already")));
                }
                if !accept && reason.trim().is_empty() {
                    return Err(CaseError::ReasonRequired);
                }
                a.decision = Some(ProposalDecision { accepted: accept, by: who, at: ctx.now, reason: reason.clone() });
                let detail = json!({"action": action, "topic": a.topic, "accepted": accept, "reason": reason});
                out.entry(ctx, "proposal_decided", detail);
            }
            (_, Event::Tick) => {
                if self.state.is_open() {
                    self.tick(ctx, &mut out);
                }
            }
            (Handling | Monitoring, Event::VolumeChecked { task, before, after }) => {
                self.volume_checked(&task, before, after, ctx, &mut out)?;
            }
            (state, e) => return Err(refuse(state, &e)),
        }
        Ok(out)
    }

    fn add_evidence(&mut self, kind: EvidenceKind, id: i64, ctx: &Ctx<'_>, out: &mut Outcome) {
        self.evidence.push(Evidence { kind, id, added_by: ctx.who.unwrap_or("system").to_string(), added_at: ctx.now });
        out.entry(ctx, "evidence_added", json!({"kind": kind, "id": id}));
        if kind == EvidenceKind::Item {
            out.effects.push(Effect::Hold(id));
        }
    }

    fn no_open_tasks(&self) -> Result<(), CaseError> {
        let open: Vec<String> = self.tasks.iter().filter(|t| t.state == TaskState::Open).map(Task::id).collect();
        if open.is_empty() {
            Ok(())
        } else {
            Err(CaseError::TasksOpen(open))
        }
    }

    fn task_mut(&mut self, id: &str) -> Result<&mut Task, CaseError> {
        self.tasks.iter_mut().find(|t| t.id() == id).ok_or_else(|| CaseError::NoTask(id.to_string()))
    }

    /// Who a task's notices go to: its person, else the unit lead (unit_lead tasks) or the case
    /// owner, else the unit lead.
    fn task_people(&self, t: &Task, ctx: &Ctx<'_>) -> Vec<String> {
        if let Some(o) = &t.owner {
            return vec![o.clone()];
        }
        let lead = ctx.directory.lead(&self.unit);
        let who = match t.role {
            Role::UnitLead => lead,
            _ => self.owner.clone().or(lead),
        };
        who.into_iter().collect()
    }

    fn start_grade_escalation(&mut self, grade: Grade, ctx: &Ctx<'_>, out: &mut Outcome) {
        let group = ctx.playbooks.leading_group.clone().or_else(|| ctx.directory.root()).unwrap_or(self.unit.clone());
        let minutes = ctx.playbooks.escalation_minutes;
        let mut steps = vec![Step { targets: vec![Target::UnitLead(group.clone())], delay_minutes: minutes }];
        if let Some(first) = ctx.directory.first_responsible(&group) {
            steps.push(Step { targets: vec![Target::Person(first)], delay_minutes: minutes });
        }
        let policy = Policy { name: format!("grade {}", grade.as_str()), steps, repeat: 1 };
        self.escalation = Some(Escalation::start(policy, ctx.now));
        out.entry(ctx, "escalation", json!({"started": true, "grade": grade.as_str(), "leading_group": group}));
        self.fire_escalation(grade, ctx, out);
    }

    fn fire_escalation(&mut self, grade: Grade, ctx: &Ctx<'_>, out: &mut Outcome) {
        let Some(e) = self.escalation.as_mut() else { return };
        let dir = ctx.directory;
        let resolve = |t: &Target, _at: DateTime<Utc>| -> Vec<String> {
            match t {
                Target::UnitLead(u) | Target::OnDuty(u) => dir.lead(u).into_iter().collect(),
                Target::Person(p) => vec![p.clone()].into_iter().filter(|p| dir.has_person(p)).collect(),
            }
        };
        let records = e.due(ctx.now, &resolve);
        let started = e.history.len() - records.len();
        for (i, r) in records.iter().enumerate() {
            let detail = json!({"round": r.round, "step": r.step, "fired": r.fired, "due_at": r.at});
            out.entries.push(Entry { at: ctx.now, who: None, kind: "escalation".into(), detail });
            if let Fired::Notified(people) = &r.fired {
                out.effects.push(Effect::Notify {
                    key: format!("case:{}:grade:{}:{}", self.id, grade.as_str(), started + i),
                    to: people.clone(),
                    notice: Notice::Grade { grade, round: r.round, step: r.step },
                });
            }
        }
    }

    fn ask_first_responsible(&mut self, ctx: &Ctx<'_>, out: &mut Outcome) {
        let spec = TaskSpec {
            key: "acknowledge_grade_i".into(),
            title: "第一责任人确认知悉（特别重大）".into(),
            title_en: "The first responsible person acknowledges (grade I)".into(),
            role: Role::UnitLead,
            kind: TaskKind::Acknowledge,
            deadline: DeadlineSpec { hours: Some(ctx.playbooks.acknowledge_hours), ..DeadlineSpec::default() },
            after: None,
            when: None,
            window_hours: day_hours(),
        };
        // Once per case: a second grade I after a change keeps the first acknowledgement.
        if self.tasks.iter().any(|t| t.key == spec.key) {
            return;
        }
        let mut t = Task::from_spec(&spec, 0);
        t.owner = ctx.directory.first_responsible(&self.unit).or_else(|| ctx.directory.lead(&self.unit));
        self.tasks.push(t);
        let idx = self.tasks.len() - 1;
        self.start_task(idx, None, ctx, out);
    }

    fn classify(
        &mut self,
        classification: Classification,
        reason: String,
        ctx: &Ctx<'_>,
        out: &mut Outcome,
    ) -> Result<(), CaseError> {
        let playbook = ctx
            .playbooks
            .of(classification)
            .ok_or_else(|| CaseError::Field("classification", "no playbook".into()))?
            .clone();
        let before = self.classification();
        for t in
            self.tasks.iter_mut().filter(|t| t.round > 0 && matches!(t.state, TaskState::Open | TaskState::Waiting))
        {
            t.state = TaskState::Cancelled;
            out.entries.push(Entry {
                at: ctx.now,
                who: ctx.who.map(str::to_string),
                kind: "task_cancelled".into(),
                detail: json!({"task": t.id(), "why": "reclassified"}),
            });
        }
        self.classifications.push(ClassRecord {
            at: ctx.now,
            by: ctx.who.unwrap_or("system").to_string(),
            classification,
            reason: reason.clone(),
        });
        let round = self.round();
        out.entry(
            ctx,
            if before.is_some() { "reclassified" } else { "classification" },
            json!({"classification": classification.as_str(), "before": before.map(Classification::as_str), "reason": reason}),
        );
        for spec in &playbook.tasks {
            self.tasks.push(Task::from_spec(spec, round));
            if spec.after.is_none() {
                let idx = self.tasks.len() - 1;
                self.start_task(idx, None, ctx, out);
            }
        }
        Ok(())
    }

    fn start_task(&mut self, idx: usize, promised: Option<DateTime<Utc>>, ctx: &Ctx<'_>, out: &mut Outcome) {
        let grade = self.grade();
        let calendar = ctx.calendars.of(&self.unit).clone();
        let t = &mut self.tasks[idx];
        let due = t.deadline.due(ctx.now, grade, &calendar, promised);
        if t.deadline.promised && due.is_none() {
            t.state = TaskState::Cancelled;
            let detail = json!({"task": t.id(), "why": "answered without a promised date"});
            out.entries.push(Entry { at: ctx.now, who: None, kind: "task_cancelled".into(), detail });
            return;
        }
        t.state = TaskState::Open;
        t.starts_at = Some(ctx.now);
        t.due_at = due;
        let detail = json!({"task": t.id(), "title": t.title, "role": t.role, "due_at": due});
        out.entries.push(Entry { at: ctx.now, who: None, kind: "task_started".into(), detail });
        let t = self.tasks[idx].clone();
        let people = self.task_people(&t, ctx);
        if !people.is_empty() {
            out.effects.push(Effect::Notify {
                key: format!("case:{}:start:{}", self.id, t.id()),
                to: people,
                notice: Notice::Assigned { task: t.id(), due_at: t.due_at },
            });
        }
    }

    fn complete(
        &mut self,
        id: &str,
        note: String,
        promised_by: Option<DateTime<Utc>>,
        decision: Option<String>,
        ctx: &Ctx<'_>,
        out: &mut Outcome,
    ) -> Result<(), CaseError> {
        let t = self.task_mut(id)?;
        if t.state != TaskState::Open {
            return Err(CaseError::TaskNotOpen(id.to_string()));
        }
        if t.kind == TaskKind::Decision
            && (!decision.as_deref().is_some_and(|d| ["adopted", "partly", "not_adopted"].contains(&d))
                || note.trim().is_empty())
        {
            return Err(CaseError::NeedsDecision(id.to_string()));
        }
        if note.chars().count() > 20_000 {
            return Err(CaseError::Field("note", "is longer than 20,000 characters".into()));
        }
        if let Some(p) = promised_by {
            if p <= ctx.now {
                return Err(CaseError::Field("promised_by", "must be later than now".into()));
            }
        }
        t.state = TaskState::Done;
        t.done_at = Some(ctx.now);
        t.done_by = ctx.who.map(str::to_string);
        t.note = note.clone();
        t.promised_by = promised_by;
        t.decision = decision.clone();
        let (key, round, due) = (t.key.clone(), t.round, t.due_at);
        out.entry(
            ctx,
            "task_done",
            json!({"task": id, "note": note, "promised_by": promised_by, "decision": decision}),
        );
        if let Some(due) = due {
            let margin = (due - ctx.now).num_minutes();
            if ctx.now <= due {
                out.entry(ctx, "deadline_met", json!({"task": id, "due_at": due, "margin_minutes": margin}));
            } else {
                let t = self.task_mut(id)?;
                if t.missed_at.is_none() {
                    t.missed_at = Some(ctx.now);
                    out.entry(ctx, "deadline_missed", json!({"task": id, "due_at": due, "late_minutes": -margin}));
                }
            }
        }
        // Tasks that follow this one.
        let followers: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| {
                let f = &self.tasks[i];
                f.round == round && f.state == TaskState::Waiting && f.after.as_deref() == Some(key.as_str())
            })
            .collect();
        for i in followers {
            if self.tasks[i].when.is_some() {
                let window = Duration::milliseconds((self.tasks[i].window_hours * 3_600_000.0) as i64);
                self.tasks[i].check_at = Some(ctx.now + window);
            } else {
                self.start_task(i, promised_by, ctx, out);
            }
        }
        Ok(())
    }

    fn volume_checked(
        &mut self,
        id: &str,
        before: i64,
        after: i64,
        ctx: &Ctx<'_>,
        out: &mut Outcome,
    ) -> Result<(), CaseError> {
        let idx = self.tasks.iter().position(|t| t.id() == id).ok_or_else(|| CaseError::NoTask(id.to_string()))?;
        if self.tasks[idx].state != TaskState::Waiting || self.tasks[idx].check_at.is_none() {
            return Err(CaseError::TaskNotOpen(id.to_string()));
        }
        self.tasks[idx].check_at = None;
        let falling = after < before;
        out.entries.push(Entry {
            at: ctx.now,
            who: None,
            kind: "volume_checked".into(),
            detail: json!({"task": id, "before": before, "after": after, "falling": falling}),
        });
        if falling {
            self.tasks[idx].state = TaskState::Cancelled;
            out.entries.push(Entry {
                at: ctx.now,
                who: None,
                kind: "task_cancelled".into(),
                detail: json!({"task": id, "why": "volume fell"}),
            });
        } else {
            self.start_task(idx, None, ctx, out);
        }
        Ok(())
    }

    fn tick(&mut self, ctx: &Ctx<'_>, out: &mut Outcome) {
        if let Some(g) = self.grade() {
            self.fire_escalation(g, ctx, out);
        }
        let reminders = ctx.playbooks.reminders.clone();
        for i in 0..self.tasks.len() {
            let t = self.tasks[i].clone();
            match t.state {
                TaskState::Open => {
                    let (Some(start), Some(due)) = (t.starts_at, t.due_at) else { continue };
                    let people = self.task_people(&t, ctx);
                    for r in &reminders {
                        let pm = permille(*r);
                        let at = fraction(start, due, *r);
                        if t.reminded.contains(&pm) || ctx.now < at {
                            continue;
                        }
                        self.tasks[i].reminded.push(pm);
                        if ctx.now >= due {
                            // Past the deadline already (the server was down): the miss says it.
                            continue;
                        }
                        out.entries.push(Entry {
                            at: ctx.now,
                            who: None,
                            kind: "reminder".into(),
                            detail: json!({"task": t.id(), "permille": pm, "due_at": due, "to": people}),
                        });
                        if !people.is_empty() {
                            out.effects.push(Effect::Notify {
                                key: format!("case:{}:remind:{}:{pm}", self.id, t.id()),
                                to: people.clone(),
                                notice: Notice::Reminder { task: t.id(), permille: pm, due_at: due },
                            });
                        }
                    }
                    if ctx.now >= due && t.missed_at.is_none() {
                        self.tasks[i].missed_at = Some(ctx.now);
                        let lead: Vec<String> = ctx.directory.lead(&self.unit).into_iter().collect();
                        out.entries.push(Entry {
                            at: ctx.now,
                            who: None,
                            kind: "deadline_missed".into(),
                            detail: json!({"task": t.id(), "due_at": due, "escalated_to": lead}),
                        });
                        let mut to = lead;
                        for p in people {
                            if !to.contains(&p) {
                                to.push(p);
                            }
                        }
                        if !to.is_empty() {
                            out.effects.push(Effect::Notify {
                                key: format!("case:{}:missed:{}", self.id, t.id()),
                                to,
                                notice: Notice::Missed { task: t.id(), due_at: due },
                            });
                        }
                    }
                }
                TaskState::Waiting => {
                    if let (Some(check), Some(after)) = (t.check_at, &t.after) {
                        if ctx.now >= check {
                            let done = self
                                .tasks
                                .iter()
                                .find(|x| x.round == t.round && &x.key == after)
                                .and_then(|x| x.done_at)
                                .unwrap_or(check);
                            let window = check - done;
                            out.effects.push(Effect::CheckVolume {
                                task: t.id(),
                                before: done - window,
                                at: done,
                                after: check,
                            });
                        }
                    }
                }
                TaskState::Done | TaskState::Cancelled => {}
            }
        }
    }
}

fn check_report(b: &ReportBody) -> Result<(), CaseError> {
    if b.development.trim().is_empty() && b.text.trim().is_empty() {
        return Err(CaseError::Field("report", "say how it is developing (development or text)".into()));
    }
    let long = [&b.place, &b.development, &b.reporter, &b.text].iter().any(|s| s.chars().count() > 20_000)
        || b.units.len() + b.groups.len() > 200;
    if long {
        return Err(CaseError::Field("report", "is too long".into()));
    }
    Ok(())
}

fn permille(f: f64) -> u32 {
    (f * 1000.0).round() as u32
}

fn fraction(start: DateTime<Utc>, due: DateTime<Utc>, f: f64) -> DateTime<Utc> {
    let span = (due - start).num_milliseconds() as f64;
    start + Duration::milliseconds((span * f).round() as i64)
}
