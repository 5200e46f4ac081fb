//! The bodies the API answers with, as types: each route of the table names its type
//! (`Routes::returns`), and `/api/v1/openapi.json` describes every field from them
//! (`schemars`). A test calls every route and checks each answer against its description.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use tidewatch_workflow::access::Grants;

/// `{"ok": true}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Health {
    /// Always true: the server answers.
    pub ok: bool,
}

/// A notification channel as the API shows it: its kind and where it goes, never its URL or
/// secret in full.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChannelView {
    /// `email`, `webhook`, `slack`, `dingtalk`, `wecom`, `feishu`.
    pub kind: String,
    /// The first letter and domain of an address, or the scheme and host of a URL.
    pub target: String,
}

/// A person.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PersonView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `zh` or `en`.
    pub lang: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// DingTalk id.
    pub dingtalk: Option<String>,
    /// WeCom id.
    pub wecom: Option<String>,
    /// Feishu id.
    pub feishu: Option<String>,
    /// Notification channels, redacted.
    pub channels: Vec<ChannelView>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// An account (never its password hash).
#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountView {
    /// Login name.
    pub username: String,
    /// The person it belongs to.
    pub person: Option<String>,
    /// Roles held, for a unit or all.
    pub grants: Grants,
    /// Disabled accounts cannot sign in.
    pub disabled: bool,
    /// Failed logins in a row.
    pub failed_logins: i64,
    /// Locked until (after too many failures).
    pub locked_until: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// An account was created or changed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountDone {
    /// Login name.
    pub username: String,
    /// Created (`POST /api/v1/accounts`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
    /// Changed (`POST /api/v1/accounts/{name}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
}

/// An API token (never its secret).
#[derive(Debug, Serialize, JsonSchema)]
pub struct TokenView {
    /// Id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The account it acts as.
    pub username: String,
    /// Roles it holds (at most its account's).
    pub grants: Grants,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Last used.
    pub last_used: Option<DateTime<Utc>>,
}

/// A new API token: its secret, shown this once.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NewTokenView {
    /// Id.
    pub id: i64,
    /// The secret (`twt_…`).
    pub token: String,
    /// Expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token revoked.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Revoked {
    /// Id.
    pub id: i64,
    /// Always true.
    pub revoked: bool,
}

/// The audit chain checked.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditVerify {
    /// The whole chain verifies.
    pub ok: bool,
    /// Entries checked (when it verifies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// The first entry that does not verify.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Settings.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Settings {
    /// Items older than this many days are deleted (evidence of open cases excepted).
    pub retention_days: i64,
}

/// A session started.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LoginView {
    /// Login name.
    pub username: String,
    /// The person.
    pub person: Option<String>,
    /// Roles held.
    pub grants: Grants,
    /// Send this in `X-CSRF-Token` with every unsafe request.
    pub csrf_token: String,
    /// The session ends then.
    pub expires_at: DateTime<Utc>,
}

/// Sessions ended.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LogoutView {
    /// How many.
    pub sessions_ended: usize,
}

/// Who is signed in.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MeView {
    /// Login name.
    pub username: String,
    /// The person.
    pub person: Option<String>,
    /// Roles held.
    pub grants: Grants,
    /// The actions those roles allow somewhere.
    pub actions: Vec<String>,
    /// The session's CSRF token (none for an API token).
    pub csrf_token: Option<String>,
}

/// A source saved or deleted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SourceDone {
    /// Its id.
    pub id: String,
    /// Saved (`PUT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saved: Option<bool>,
    /// Deleted (`DELETE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

/// A notification of an alert, redacted.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NotificationView {
    /// Outbox id.
    pub id: i64,
    /// The person.
    pub recipient: String,
    /// The channel, redacted.
    pub channel: ChannelView,
    /// Subject line.
    pub subject: String,
    /// `pending`, `sent`, `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Queued.
    pub created_at: DateTime<Utc>,
    /// Delivered.
    pub sent_at: Option<DateTime<Utc>>,
}

/// An alert with its escalation and notifications.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AlertDetail {
    /// The alert.
    pub alert: tidewatch_workflow::alerts::Alert,
    /// Its escalation, when a route led to a policy (and it is not resolved).
    pub escalation: Option<tidewatch_workflow::escalation::Escalation>,
    /// Its notifications.
    pub notifications: Vec<NotificationView>,
}

/// An alert after an action.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AlertDone {
    /// The alert.
    pub alert: Option<tidewatch_workflow::alerts::Alert>,
}

/// A silence added.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SilenceDone {
    /// Its id.
    pub id: i64,
}

/// Who is on duty for a unit.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OnCallView {
    /// The unit.
    pub unit: String,
    /// The moment asked about.
    pub at: DateTime<Utc>,
    /// The shift in force, if any.
    pub on_duty: Option<tidewatch_workflow::rota::Shift>,
    /// The unit lead.
    pub lead: Option<String>,
}

/// An override added.
#[derive(Debug, Serialize, JsonSchema)]
pub struct OverrideDone {
    /// The unit.
    pub unit: String,
    /// Who is on duty when the override starts.
    pub on_duty_at_start: Option<tidewatch_workflow::rota::Shift>,
}

/// Two shifts swapped: who is on duty at each moment now.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SwapDone {
    /// At the first moment.
    pub a: Option<tidewatch_workflow::rota::Shift>,
    /// At the second.
    pub b: Option<tidewatch_workflow::rota::Shift>,
}

/// A case in a list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseSummary {
    /// Id.
    pub id: i64,
    /// Title.
    pub title: String,
    /// Where it is.
    pub state: tidewatch_workflow::cases::CaseState,
    /// Its grade.
    pub grade: Option<tidewatch_workflow::cases::Grade>,
    /// Its classification.
    pub classification: Option<tidewatch_workflow::cases::Classification>,
    /// Owner unit.
    pub unit: String,
    /// Owner person.
    pub owner: Option<String>,
    /// The alert it came from.
    pub alert: Option<i64>,
    /// Opened.
    pub opened_at: DateTime<Utc>,
    /// Closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Tasks open.
    pub open_tasks: usize,
    /// Open tasks past their deadline.
    pub overdue: Vec<String>,
    /// Signals on its stories since it opened.
    pub signals: u32,
}

/// One line of a case's timeline.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TimelineEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`null`: the clock).
    pub who: Option<String>,
    /// What (docs/cases.md lists the kinds).
    pub kind: String,
    /// Its details.
    pub detail: serde_json::Value,
}

/// A case with its timeline and, once closed, its review figures.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseDetail {
    /// The case.
    pub case: tidewatch_engine::cases::CaseView,
    /// Its timeline, in order.
    pub timeline: Vec<TimelineEntry>,
    /// The review's figures (closed and reviewed cases).
    pub review_figures: Option<tidewatch_engine::cases::ReviewFigures>,
}

/// Per-unit figures for a year.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FiguresView {
    /// The local year.
    pub year: i32,
    /// Its start.
    pub from: DateTime<Utc>,
    /// Its end.
    pub to: DateTime<Utc>,
    /// Per unit.
    pub units: Vec<tidewatch_engine::cases::UnitFigures>,
}

/// The caller's inbox: the notifications to their person.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InboxView {
    /// The highest id read so far.
    pub seen: i64,
    /// Newest first (at most 100).
    pub items: Vec<InboxItem>,
}

/// A notification in the caller's inbox.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InboxItem {
    /// Outbox id.
    pub id: i64,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// The alert it is about (0: a case or response notice).
    pub alert: i64,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// `pending`, `sent` or `failed`.
    pub status: String,
}

/// The inbox marked read.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InboxRead {
    /// The highest id read now.
    pub seen: i64,
}

/// The caller's interface language.
#[derive(Debug, Serialize, JsonSchema)]
pub struct LangView {
    /// `zh` or `en`.
    pub lang: String,
}

/// Test notifications queued.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TestNotification {
    /// One per channel of the person.
    pub queued: usize,
}
