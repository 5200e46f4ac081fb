//! The route table: every route of the server with the access it needs, in one place.
//!
//! A route is added only through [`Routes::add`], which takes its [`Access`]: either an
//! [`Action`] of the permission table (`tidewatch_workflow::access::PERMISSIONS`) — and then the
//! [`crate::auth::require`] middleware stands in front of its handler — or a reason why it needs
//! no session ([`Access::Public`], [`Access::OwnCredential`]). The same list prints the API docs'
//! table, generates `/api/v1/openapi.json`, and drives the test that tries every route with every
//! role, so a route cannot be added without a permission unnoticed.

use crate::AppState;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;
use serde::Serialize;
use std::sync::Arc;
use tidewatch_workflow::access::{Action, PERMISSIONS};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A session or API token whose roles allow this action.
    Needs(Action),
    /// Nothing: it tells nothing about the data (the page shell, health, login).
    Public,
    /// Its own credential, checked by the handler (a webhook source's token, a signed link).
    OwnCredential(&'static str),
}

/// One route as the table lists it.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path, axum style (`/api/v1/alerts/{id}`).
    pub path: &'static str,
    /// What it needs.
    pub access: Access,
    /// One line for the docs.
    pub summary: &'static str,
    /// The JSON body of its success answer, for the OpenAPI document (`None`: not JSON — the
    /// page, the live stream, the acknowledge pages).
    pub response: Option<SchemaFn>,
}

/// Adds the schema of a response type to a generator and returns a reference to it.
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

fn schema_of<T: schemars::JsonSchema>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

/// The router being built and the table of its routes.
pub struct Routes {
    state: Arc<AppState>,
    router: Router<Arc<AppState>>,
    specs: Vec<RouteSpec>,
}

impl Routes {
    fn new(state: Arc<AppState>) -> Routes {
        Routes { state, router: Router::new(), specs: Vec::new() }
    }

    /// Adds a route with the access it needs.
    pub fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        summary: &'static str,
        handler: H,
    ) -> Routes
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
        let mut route = on(filter, handler);
        if let Access::Needs(action) = access {
            route =
                route.layer(axum::middleware::from_fn_with_state((self.state.clone(), action), crate::auth::require));
        }
        self.router = self.router.route(path, route);
        self.specs.push(RouteSpec { method, path, access, summary, response: None });
        self
    }

    /// The type of the JSON body the route just added answers with.
    pub fn returns<T: schemars::JsonSchema>(mut self) -> Routes {
        if let Some(last) = self.specs.last_mut() {
            last.response = Some(schema_of::<T>);
        }
        self
    }

    /// Applies a layer to the routes added so far (a larger body limit for the intake).
    fn map_router(mut self, f: impl FnOnce(Router<Arc<AppState>>) -> Router<Arc<AppState>>) -> Routes {
        self.router = f(self.router);
        self
    }
}

/// Every route of the server, and the router serving them (without the server-wide layers).
pub fn table(state: Arc<AppState>) -> (Router<Arc<AppState>>, Vec<RouteSpec>) {
    use crate::{admin, alerting, auth, cases, items, responses, stories, topics, workspace};
    use Access::{Needs, OwnCredential, Public};
    use Action::*;
    let get = Method::GET;
    let post = Method::POST;
    let put = Method::PUT;
    let delete = Method::DELETE;
    let patch = Method::PATCH;
    let r = Routes::new(state)
        .add(
            post.clone(),
            "/api/v1/ingest",
            OwnCredential("the source's bearer token (and HMAC signature)"),
            "Webhook intake: items pushed by a source",
            crate::ingest::ingest,
        )
        .returns::<crate::ingest::IngestView>()
        .map_router(|r| r.layer(axum::extract::DefaultBodyLimit::max(crate::ingest::HARD_MAX_BYTES)))
        .add(
            get.clone(),
            "/monitor",
            Public,
            "Live monitor: items, groups, stories, bursts, topics (a page; asks for a login)",
            crate::page::page,
        )
        .add(get.clone(), "/app.js", Public, "The search page's script", crate::page::script)
        .add(get.clone(), "/app.css", Public, "The search page's style sheet", crate::page::style)
        .add(get.clone(), "/ws.js", Public, "The workspace's script", crate::page::ws_script)
        .add(get.clone(), "/ws.css", Public, "The workspace's style sheet", crate::page::ws_style)
        .add(get.clone(), "/login", Public, "The sign-in page", workspace::login_page)
        .add(
            get.clone(),
            "/",
            Needs(ReadItems),
            "Dashboard: what needs me, volume, stories, on duty (a page)",
            workspace::dashboard,
        )
        .add(get.clone(), "/alerts", Needs(ReadAlerts), "Alerts inbox (a page)", workspace::alerts)
        .add(get.clone(), "/cases", Needs(ReadCases), "Cases (a page)", workspace::cases)
        .add(get.clone(), "/cases/{id}", Needs(ReadCases), "A case's workspace (a page)", workspace::case)
        .add(get.clone(), "/inbox", Needs(ReadItems), "My notifications (a page)", workspace::inbox)
        .add(
            get.clone(),
            "/search",
            Needs(ReadItems),
            "Search with filters, add to case (a page; audited)",
            workspace::search::search,
        )
        .add(get.clone(), "/stories/{id}", Needs(ReadItems), "A story (a page)", workspace::search::story)
        .add(get.clone(), "/topics", Needs(ReadItems), "Topics (a page)", workspace::admin::topics)
        .add(
            get.clone(),
            "/topics/{id}",
            Needs(ReadItems),
            "A topic: check, backtest, versions (a page)",
            workspace::admin::topic,
        )
        .add(get.clone(), "/rota", Needs(ReadRota), "The duty rota (a page)", workspace::admin::rota)
        .add(
            get.clone(),
            "/sources",
            Needs(ReadSources),
            "Sources and their health; add one (a page)",
            workspace::admin::sources,
        )
        .add(
            get.clone(),
            "/directory",
            Needs(ReadDirectory),
            "Units and people (a page)",
            workspace::directory::directory,
        )
        .add(
            get.clone(),
            "/accounts",
            Needs(ManageAccounts),
            "Accounts and roles (a page)",
            workspace::directory::accounts,
        )
        .add(get.clone(), "/settings", Needs(EditSettings), "Settings (a page)", workspace::directory::settings)
        .add(
            get.clone(),
            "/audit",
            Needs(ReadAudit),
            "The audit log and its verification (a page)",
            workspace::admin::audit,
        )
        .add(get.clone(), "/api/v1/me/inbox", Needs(ReadItems), "My notifications, newest first", workspace::inbox_list)
        .returns::<crate::views::InboxView>()
        .add(
            post.clone(),
            "/api/v1/me/inbox/read",
            Needs(ReadItems),
            "Mark my inbox read up to an id",
            workspace::inbox_read,
        )
        .returns::<crate::views::InboxRead>()
        .add(put.clone(), "/api/v1/me/lang", Needs(ReadItems), "My interface language (zh or en)", workspace::set_lang)
        .returns::<crate::views::LangView>()
        .add(get.clone(), "/api/v1/health", Public, "Whether the server runs (nothing about the data)", admin::health)
        .returns::<crate::views::Health>()
        .add(
            get.clone(),
            "/metrics",
            Needs(ReadMetrics),
            "Counters and stage timings in Prometheus' text format (an admin's API token)",
            admin::metrics,
        )
        .add(get.clone(), "/api/v1/openapi.json", Public, "This API as OpenAPI 3.1", crate::openapi::document)
        .returns::<serde_json::Value>()
        .add(
            post.clone(),
            "/api/v1/login",
            Public,
            "Start a session: sets the cookie, answers the CSRF token",
            auth::login,
        )
        .returns::<crate::views::LoginView>()
        .add(
            post.clone(),
            "/api/v1/logout",
            Needs(ReadItems),
            "End this session, or every session of the account",
            auth::logout,
        )
        .returns::<crate::views::LogoutView>()
        .add(get.clone(), "/api/v1/me", Needs(ReadItems), "Who is signed in, their roles and actions", auth::me)
        .returns::<crate::views::MeView>()
        .add(
            get.clone(),
            "/ack/{id}",
            OwnCredential("the signed link"),
            "The acknowledge link: a confirmation page",
            alerting::ack_page,
        )
        .add(
            post.clone(),
            "/ack/{id}",
            OwnCredential("the signed link"),
            "The acknowledge link: acknowledge",
            alerting::ack_link,
        )
        .add(get.clone(), "/api/v1/status", Needs(ReadItems), "Items stored and indexed", items::status)
        .returns::<crate::items::StatusView>()
        .add(get.clone(), "/api/v1/search", Needs(ReadItems), "Full-text search (audited)", items::search)
        .returns::<crate::items::SearchView>()
        .add(get.clone(), "/api/v1/items", Needs(ReadItems), "Newest items", items::newest)
        .returns::<Vec<crate::ItemView>>()
        .add(get.clone(), "/api/v1/groups", Needs(ReadItems), "Largest duplicate groups", items::groups)
        .returns::<Vec<crate::items::GroupSummary>>()
        .add(get.clone(), "/api/v1/groups/{id}", Needs(ReadItems), "One duplicate group", items::group)
        .returns::<crate::items::GroupDetail>()
        .add(get.clone(), "/api/v1/stream", Needs(ReadItems), "New items as server-sent events", items::stream)
        .add(get.clone(), "/api/v1/signals", Needs(ReadItems), "Signals, newest first", items::signals)
        .returns::<Vec<tidewatch_store::Signal>>()
        .add(get.clone(), "/api/v1/stories", Needs(ReadItems), "Stories", stories::list)
        .returns::<Vec<crate::stories::StoryView>>()
        .add(get.clone(), "/api/v1/stories/{id}", Needs(ReadItems), "One story", stories::get)
        .returns::<crate::stories::StoryDetail>()
        .add(get.clone(), "/api/v1/bursts", Needs(ReadItems), "Bursts", stories::bursts)
        .returns::<Vec<crate::stories::BurstView>>()
        .add(get.clone(), "/api/v1/sources", Needs(ReadSources), "Sources and their health", items::sources)
        .returns::<Vec<tidewatch_engine::sources::Health>>()
        .add(
            put.clone(),
            "/api/v1/sources/{id}",
            Needs(EditSources),
            "Add or replace a source (allow_addresses: admin)",
            items::put_source,
        )
        .returns::<crate::views::SourceDone>()
        .add(
            post.clone(),
            "/api/v1/sources/test",
            Needs(EditSources),
            "Fetch a source's configuration once, storing nothing",
            items::test_source,
        )
        .returns::<tidewatch_engine::sources::TestFetch>()
        .add(
            delete.clone(),
            "/api/v1/sources/{id}",
            Needs(EditSources),
            "Remove a source added through the API",
            items::delete_source,
        )
        .returns::<crate::views::SourceDone>()
        .add(post.clone(), "/api/v1/rules/check", Needs(Backtest), "Check a rule", topics::check)
        .returns::<crate::topics::CheckView>()
        .add(get.clone(), "/api/v1/topics", Needs(ReadItems), "Topics", topics::list)
        .returns::<Vec<tidewatch_store::TopicRecord>>()
        .add(
            post.clone(),
            "/api/v1/topics/backtest",
            Needs(Backtest),
            "Run a draft rule over stored items",
            topics::backtest,
        )
        .returns::<crate::topics::BacktestView>()
        .add(get.clone(), "/api/v1/topics/{id}", Needs(ReadItems), "One topic with its versions", topics::get_topic)
        .returns::<crate::topics::TopicDetail>()
        .add(put.clone(), "/api/v1/topics/{id}", Needs(EditTopics), "Save a topic (a new version)", topics::put_topic)
        .returns::<crate::topics::SavedView>()
        .add(get.clone(), "/api/v1/topics/{id}/counts", Needs(ReadItems), "Hits per day", topics::counts)
        .returns::<Vec<crate::topics::DayCount>>()
        .add(get.clone(), "/api/v1/alerts", Needs(ReadAlerts), "Alerts, newest first, paginated", alerting::list)
        .returns::<Vec<tidewatch_workflow::alerts::Alert>>()
        .add(
            get.clone(),
            "/api/v1/alerts/{id}",
            Needs(ReadAlerts),
            "One alert, its escalation and notifications (redacted)",
            alerting::get,
        )
        .returns::<crate::views::AlertDetail>()
        .add(
            post.clone(),
            "/api/v1/alerts/{id}/acknowledge",
            Needs(ActOnAlerts),
            "Acknowledge an alert",
            alerting::acknowledge,
        )
        .returns::<crate::views::AlertDone>()
        .add(post.clone(), "/api/v1/alerts/{id}/resolve", Needs(ActOnAlerts), "Resolve an alert", alerting::resolve)
        .returns::<crate::views::AlertDone>()
        .add(
            post.clone(),
            "/api/v1/alerts/{id}/escalate",
            Needs(EscalateAlerts),
            "Escalate an alert, also past a step",
            alerting::escalate,
        )
        .returns::<crate::views::AlertDone>()
        .add(post.clone(), "/api/v1/silences", Needs(Silence), "Mute matching signals for a time", alerting::silence)
        .returns::<crate::views::SilenceDone>()
        .add(get.clone(), "/api/v1/oncall", Needs(ReadRota), "Who is on duty", alerting::oncall)
        .returns::<Vec<crate::views::OnCallView>>()
        .add(
            post.clone(),
            "/api/v1/oncall/overrides",
            Needs(EditRota),
            "Someone covers a span of a unit's rota",
            alerting::add_override,
        )
        .returns::<crate::views::OverrideDone>()
        .add(
            post.clone(),
            "/api/v1/oncall/swap",
            Needs(EditRota),
            "Two shifts of a unit exchange people",
            alerting::swap,
        )
        .returns::<crate::views::SwapDone>()
        .add(get.clone(), "/api/v1/units", Needs(ReadDirectory), "Units", admin::list_units)
        .returns::<Vec<tidewatch_store::UnitRow>>()
        .add(put.clone(), "/api/v1/units/{id}", Needs(EditDirectory), "Add or replace a unit", admin::put_unit)
        .returns::<tidewatch_store::UnitRow>()
        .add(
            get.clone(),
            "/api/v1/people",
            Needs(ReadDirectory),
            "People (channel secrets redacted)",
            admin::list_people,
        )
        .returns::<Vec<crate::views::PersonView>>()
        .add(put.clone(), "/api/v1/people/{id}", Needs(EditDirectory), "Add or replace a person", admin::put_person)
        .returns::<crate::views::PersonView>()
        .add(
            post.clone(),
            "/api/v1/people/{id}/test-notification",
            Needs(EditDirectory),
            "Send a test notification to each of a person's channels",
            admin::test_notification,
        )
        .returns::<crate::views::TestNotification>()
        .add(get.clone(), "/api/v1/accounts", Needs(ManageAccounts), "Accounts and their grants", admin::list_accounts)
        .returns::<Vec<crate::views::AccountView>>()
        .add(post.clone(), "/api/v1/accounts", Needs(ManageAccounts), "Create an account", admin::create_account)
        .returns::<crate::views::AccountDone>()
        .add(
            post.clone(),
            "/api/v1/accounts/{name}",
            Needs(ManageAccounts),
            "Change an account: grants, disable, unlock, password",
            admin::change_account,
        )
        .returns::<crate::views::AccountDone>()
        .add(
            get.clone(),
            "/api/v1/tokens",
            Needs(ManageAccounts),
            "API tokens (never their secrets)",
            admin::list_tokens,
        )
        .returns::<Vec<crate::views::TokenView>>()
        .add(
            post.clone(),
            "/api/v1/tokens",
            Needs(ManageAccounts),
            "Create an API token (shown once)",
            admin::create_token,
        )
        .returns::<crate::views::NewTokenView>()
        .add(delete.clone(), "/api/v1/tokens/{id}", Needs(ManageAccounts), "Revoke an API token", admin::revoke_token)
        .returns::<crate::views::Revoked>()
        .add(
            get.clone(),
            "/api/v1/audit",
            Needs(ReadAudit),
            "The audit log (a unit lead sees their units')",
            admin::audit,
        )
        .returns::<Vec<tidewatch_store::AuditEntry>>()
        .add(
            get.clone(),
            "/api/v1/audit/verify",
            Needs(ReadAudit),
            "Verify the audit log's hash chain",
            admin::verify_audit,
        )
        .returns::<crate::views::AuditVerify>()
        .add(get.clone(), "/api/v1/settings", Needs(EditSettings), "Settings: the retention period", admin::settings)
        .returns::<crate::views::Settings>()
        .add(put.clone(), "/api/v1/settings", Needs(EditSettings), "Change the retention period", admin::put_settings)
        .returns::<crate::views::Settings>()
        .add(get.clone(), "/api/v1/cases", Needs(ReadCases), "Cases, newest first, filtered", cases::list)
        .returns::<Vec<crate::views::CaseSummary>>()
        .add(
            post.clone(),
            "/api/v1/cases",
            Needs(OpenCases),
            "Open a case from an alert, a story or items",
            cases::create,
        )
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(get.clone(), "/api/v1/cases/{id}", Needs(ReadCases), "A case with its timeline and review", cases::get)
        .returns::<crate::views::CaseDetail>()
        .add(patch, "/api/v1/cases/{id}", Needs(ReportCases), "Change title, owner, participants", cases::update)
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(
            post.clone(),
            "/api/v1/cases/{id}/reports",
            Needs(ReportCases),
            "File a first or follow-up report",
            cases::report,
        )
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(
            post.clone(),
            "/api/v1/cases/{id}/evidence",
            Needs(ReportCases),
            "Link an item or a story",
            cases::add_evidence,
        )
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(
            delete.clone(),
            "/api/v1/cases/{id}/evidence/{kind}/{ref}",
            Needs(ReportCases),
            "Unlink an item or a story",
            cases::remove_evidence,
        )
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(post.clone(), "/api/v1/cases/{id}/assessment", Needs(AssessCases), "Grade a case (研判)", cases::assess)
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(
            post.clone(),
            "/api/v1/cases/{id}/classification",
            Needs(AssessCases),
            "Classify a case: its playbook's tasks start",
            cases::classify,
        )
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(
            post.clone(),
            "/api/v1/cases/{id}/tasks/{task}/done",
            Needs(WorkTasks),
            "Mark a task done (the caller holds its role)",
            cases::task_done,
        )
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(
            post.clone(),
            "/api/v1/cases/{id}/tasks/{task}/reassign",
            Needs(AssignTasks),
            "Give a task to a person",
            cases::task_reassign,
        )
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(
            post.clone(),
            "/api/v1/cases/{id}/acknowledge",
            Needs(AcknowledgeCases),
            "Acknowledge a case's grade escalation",
            cases::acknowledge,
        )
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(post.clone(), "/api/v1/cases/{id}/monitor", Needs(CloseCases), "Handling done: monitoring", cases::monitor)
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(post.clone(), "/api/v1/cases/{id}/close", Needs(CloseCases), "Close a case", cases::close)
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(post.clone(), "/api/v1/cases/{id}/reopen", Needs(CloseCases), "Reopen a closed case", cases::reopen)
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(post.clone(), "/api/v1/cases/{id}/review", Needs(ReviewCases), "Write the review", cases::review)
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(
            post.clone(),
            "/api/v1/cases/{id}/review/approve",
            Needs(ApproveReviews),
            "Approve the review (closed → reviewed)",
            cases::approve,
        )
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(
            post.clone(),
            "/api/v1/cases/{id}/review/proposals/{action}",
            Needs(EditTopics),
            "Accept or reject a rule change a review proposes",
            cases::decide_proposal,
        )
        .returns::<tidewatch_engine::cases::CaseView>()
        .add(
            post.clone(),
            "/api/v1/cases/{id}/responses",
            Needs(DraftResponses),
            "Draft a response on a case",
            responses::draft,
        )
        .returns::<tidewatch_workflow::responses::Response>()
        .add(get.clone(), "/api/v1/cases/{id}/responses", Needs(ReadCases), "A case's responses", responses::list)
        .returns::<Vec<tidewatch_workflow::responses::Response>>()
        .add(
            get.clone(),
            "/api/v1/responses/{id}",
            Needs(ReadCases),
            "A response, its versions and approvals",
            responses::get,
        )
        .returns::<tidewatch_workflow::responses::Response>()
        .add(post.clone(), "/api/v1/responses/{id}/versions", Needs(DraftResponses), "A new version", responses::edit)
        .returns::<tidewatch_workflow::responses::Response>()
        .add(get.clone(), "/api/v1/responses/{id}/diff", Needs(ReadCases), "Two versions word by word", responses::diff)
        .returns::<responses::DiffView>()
        .add(
            post.clone(),
            "/api/v1/responses/{id}/submit",
            Needs(DraftResponses),
            "Submit to the chain",
            responses::submit,
        )
        .returns::<tidewatch_workflow::responses::Response>()
        .add(
            post.clone(),
            "/api/v1/responses/{id}/approve",
            Needs(ApproveResponses),
            "Approve a version at its step",
            responses::approve,
        )
        .returns::<tidewatch_workflow::responses::Response>()
        .add(
            post.clone(),
            "/api/v1/responses/{id}/return",
            Needs(ApproveResponses),
            "Return a version with a comment",
            responses::return_,
        )
        .returns::<tidewatch_workflow::responses::Response>()
        .add(
            post.clone(),
            "/api/v1/responses/{id}/publish",
            Needs(PublishResponses),
            "Record where the approved text went out",
            responses::publish,
        )
        .returns::<tidewatch_workflow::responses::Response>()
        .add(post.clone(), "/api/v1/cases/{id}/claims", Needs(ManageClaims), "Register a claim", responses::new_claim)
        .returns::<tidewatch_workflow::claims::Claim>()
        .add(get.clone(), "/api/v1/cases/{id}/claims", Needs(ReadCases), "A case's claims", responses::claims)
        .returns::<Vec<tidewatch_workflow::claims::Claim>>()
        .add(
            get.clone(),
            "/api/v1/claims/{id}",
            Needs(ReadCases),
            "A claim, suggested items, its clarification's effect",
            responses::claim,
        )
        .returns::<responses::ClaimDetail>()
        .add(
            post.clone(),
            "/api/v1/claims/{id}/status",
            Needs(ManageClaims),
            "Set a claim's status",
            responses::claim_status,
        )
        .returns::<tidewatch_workflow::claims::Claim>()
        .add(
            post.clone(),
            "/api/v1/claims/{id}/items",
            Needs(ManageClaims),
            "Link an item with its stance",
            responses::claim_item,
        )
        .returns::<tidewatch_workflow::claims::Claim>()
        .add(get, "/api/v1/units/figures", Needs(ReadFigures), "Per-unit figures for a year (考核)", cases::figures)
        .returns::<crate::views::FiguresView>();
    (r.router, r.specs)
}

/// A route's row in the docs' table.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AccessRow {
    /// `GET /api/v1/…`.
    pub route: String,
    /// The action, or how it is authenticated.
    pub needs: String,
    /// The roles that may call it.
    pub roles: String,
    /// What it does.
    pub summary: &'static str,
}

/// The table of routes and who may call them, as docs/security.md prints it.
pub fn access_table(specs: &[RouteSpec]) -> Vec<AccessRow> {
    specs
        .iter()
        .map(|s| {
            let (needs, roles) = match s.access {
                Access::Needs(a) => {
                    let roles = PERMISSIONS.iter().find(|(x, _)| *x == a).map(|(_, r)| *r).unwrap_or(&[]);
                    (format!("`{}`", a.as_str()), roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "))
                }
                Access::Public => ("—".into(), "anyone".into()),
                Access::OwnCredential(c) => (c.to_string(), "anyone holding it".into()),
            };
            AccessRow { route: format!("{} {}", s.method, s.path), needs, roles, summary: s.summary }
        })
        .collect()
}

/// The permission table and route table as Markdown (docs/security.md holds this output; a
/// test checks it is current).
pub fn markdown(specs: &[RouteSpec]) -> String {
    use tidewatch_workflow::access::Role;
    let mut out = String::from("| action | ");
    out += &Role::ALL.iter().map(|r| format!("{} {}", r.as_str(), r.name_zh())).collect::<Vec<_>>().join(" | ");
    out += " |\n|---|";
    out += &"---|".repeat(Role::ALL.len());
    out.push('\n');
    for (a, roles) in PERMISSIONS {
        out += &format!("| `{}` |", a.as_str());
        for r in Role::ALL {
            out += if roles.contains(&r) { " ✓ |" } else { "   |" };
        }
        out.push('\n');
    }
    out += "\n| route | needs | roles | what |\n|---|---|---|---|\n";
    for row in access_table(specs) {
        out += &format!("| `{}` | {} | {} | {} |\n", row.route, row.needs, row.roles, row.summary);
    }
    out
}
