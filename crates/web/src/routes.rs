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
        self.specs.push(RouteSpec { method, path, access, summary });
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
    use crate::{admin, alerting, auth, cases, items, stories, topics};
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
        .map_router(|r| r.layer(axum::extract::DefaultBodyLimit::max(crate::ingest::HARD_MAX_BYTES)))
        .add(get.clone(), "/", Public, "The page (asks for a login)", crate::page::page)
        .add(get.clone(), "/app.js", Public, "The page's script", crate::page::script)
        .add(get.clone(), "/app.css", Public, "The page's style sheet", crate::page::style)
        .add(get.clone(), "/api/v1/health", Public, "Whether the server runs (nothing about the data)", admin::health)
        .add(get.clone(), "/api/v1/openapi.json", Public, "This API as OpenAPI 3.1", crate::openapi::document)
        .add(
            post.clone(),
            "/api/v1/login",
            Public,
            "Start a session: sets the cookie, answers the CSRF token",
            auth::login,
        )
        .add(
            post.clone(),
            "/api/v1/logout",
            Needs(ReadItems),
            "End this session, or every session of the account",
            auth::logout,
        )
        .add(get.clone(), "/api/v1/me", Needs(ReadItems), "Who is signed in, their roles and actions", auth::me)
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
        .add(get.clone(), "/api/v1/search", Needs(ReadItems), "Full-text search (audited)", items::search)
        .add(get.clone(), "/api/v1/items", Needs(ReadItems), "Newest items", items::newest)
        .add(get.clone(), "/api/v1/groups", Needs(ReadItems), "Largest duplicate groups", items::groups)
        .add(get.clone(), "/api/v1/groups/{id}", Needs(ReadItems), "One duplicate group", items::group)
        .add(get.clone(), "/api/v1/stream", Needs(ReadItems), "New items as server-sent events", items::stream)
        .add(get.clone(), "/api/v1/signals", Needs(ReadItems), "Signals, newest first", items::signals)
        .add(get.clone(), "/api/v1/stories", Needs(ReadItems), "Stories", stories::list)
        .add(get.clone(), "/api/v1/stories/{id}", Needs(ReadItems), "One story", stories::get)
        .add(get.clone(), "/api/v1/bursts", Needs(ReadItems), "Bursts", stories::bursts)
        .add(get.clone(), "/api/v1/sources", Needs(ReadSources), "Sources and their health", items::sources)
        .add(
            put.clone(),
            "/api/v1/sources/{id}",
            Needs(EditSources),
            "Add or replace a source (allow_addresses: admin)",
            items::put_source,
        )
        .add(
            delete.clone(),
            "/api/v1/sources/{id}",
            Needs(EditSources),
            "Remove a source added through the API",
            items::delete_source,
        )
        .add(post.clone(), "/api/v1/rules/check", Needs(Backtest), "Check a rule", topics::check)
        .add(get.clone(), "/api/v1/topics", Needs(ReadItems), "Topics", topics::list)
        .add(
            post.clone(),
            "/api/v1/topics/backtest",
            Needs(Backtest),
            "Run a draft rule over stored items",
            topics::backtest,
        )
        .add(get.clone(), "/api/v1/topics/{id}", Needs(ReadItems), "One topic with its versions", topics::get_topic)
        .add(put.clone(), "/api/v1/topics/{id}", Needs(EditTopics), "Save a topic (a new version)", topics::put_topic)
        .add(get.clone(), "/api/v1/topics/{id}/counts", Needs(ReadItems), "Hits per day", topics::counts)
        .add(get.clone(), "/api/v1/alerts", Needs(ReadAlerts), "Alerts, newest first, paginated", alerting::list)
        .add(
            get.clone(),
            "/api/v1/alerts/{id}",
            Needs(ReadAlerts),
            "One alert, its escalation and notifications (redacted)",
            alerting::get,
        )
        .add(
            post.clone(),
            "/api/v1/alerts/{id}/acknowledge",
            Needs(ActOnAlerts),
            "Acknowledge an alert",
            alerting::acknowledge,
        )
        .add(post.clone(), "/api/v1/alerts/{id}/resolve", Needs(ActOnAlerts), "Resolve an alert", alerting::resolve)
        .add(
            post.clone(),
            "/api/v1/alerts/{id}/escalate",
            Needs(EscalateAlerts),
            "Escalate an alert, also past a step",
            alerting::escalate,
        )
        .add(post.clone(), "/api/v1/silences", Needs(Silence), "Mute matching signals for a time", alerting::silence)
        .add(get.clone(), "/api/v1/oncall", Needs(ReadRota), "Who is on duty", alerting::oncall)
        .add(
            post.clone(),
            "/api/v1/oncall/overrides",
            Needs(EditRota),
            "Someone covers a span of a unit's rota",
            alerting::add_override,
        )
        .add(
            post.clone(),
            "/api/v1/oncall/swap",
            Needs(EditRota),
            "Two shifts of a unit exchange people",
            alerting::swap,
        )
        .add(get.clone(), "/api/v1/units", Needs(ReadDirectory), "Units", admin::list_units)
        .add(put.clone(), "/api/v1/units/{id}", Needs(EditDirectory), "Add or replace a unit", admin::put_unit)
        .add(
            get.clone(),
            "/api/v1/people",
            Needs(ReadDirectory),
            "People (channel secrets redacted)",
            admin::list_people,
        )
        .add(put.clone(), "/api/v1/people/{id}", Needs(EditDirectory), "Add or replace a person", admin::put_person)
        .add(get.clone(), "/api/v1/accounts", Needs(ManageAccounts), "Accounts and their grants", admin::list_accounts)
        .add(post.clone(), "/api/v1/accounts", Needs(ManageAccounts), "Create an account", admin::create_account)
        .add(
            post.clone(),
            "/api/v1/accounts/{name}",
            Needs(ManageAccounts),
            "Change an account: grants, disable, unlock, password",
            admin::change_account,
        )
        .add(
            get.clone(),
            "/api/v1/tokens",
            Needs(ManageAccounts),
            "API tokens (never their secrets)",
            admin::list_tokens,
        )
        .add(
            post.clone(),
            "/api/v1/tokens",
            Needs(ManageAccounts),
            "Create an API token (shown once)",
            admin::create_token,
        )
        .add(delete.clone(), "/api/v1/tokens/{id}", Needs(ManageAccounts), "Revoke an API token", admin::revoke_token)
        .add(
            get.clone(),
            "/api/v1/audit",
            Needs(ReadAudit),
            "The audit log (a unit lead sees their units')",
            admin::audit,
        )
        .add(
            get.clone(),
            "/api/v1/audit/verify",
            Needs(ReadAudit),
            "Verify the audit log's hash chain",
            admin::verify_audit,
        )
        .add(get.clone(), "/api/v1/settings", Needs(EditSettings), "Settings: the retention period", admin::settings)
        .add(put.clone(), "/api/v1/settings", Needs(EditSettings), "Change the retention period", admin::put_settings)
        .add(get.clone(), "/api/v1/cases", Needs(ReadCases), "Cases, newest first, filtered", cases::list)
        .add(
            post.clone(),
            "/api/v1/cases",
            Needs(OpenCases),
            "Open a case from an alert, a story or items",
            cases::create,
        )
        .add(get.clone(), "/api/v1/cases/{id}", Needs(ReadCases), "A case with its timeline and review", cases::get)
        .add(patch, "/api/v1/cases/{id}", Needs(ReportCases), "Change title, owner, participants", cases::update)
        .add(
            post.clone(),
            "/api/v1/cases/{id}/reports",
            Needs(ReportCases),
            "File a first or follow-up report",
            cases::report,
        )
        .add(
            post.clone(),
            "/api/v1/cases/{id}/evidence",
            Needs(ReportCases),
            "Link an item or a story",
            cases::add_evidence,
        )
        .add(
            delete.clone(),
            "/api/v1/cases/{id}/evidence/{kind}/{ref}",
            Needs(ReportCases),
            "Unlink an item or a story",
            cases::remove_evidence,
        )
        .add(post.clone(), "/api/v1/cases/{id}/assessment", Needs(AssessCases), "Grade a case (研判)", cases::assess)
        .add(
            post.clone(),
            "/api/v1/cases/{id}/classification",
            Needs(AssessCases),
            "Classify a case: its playbook's tasks start",
            cases::classify,
        )
        .add(
            post.clone(),
            "/api/v1/cases/{id}/tasks/{task}/done",
            Needs(WorkTasks),
            "Mark a task done (the caller holds its role)",
            cases::task_done,
        )
        .add(
            post.clone(),
            "/api/v1/cases/{id}/tasks/{task}/reassign",
            Needs(AssignTasks),
            "Give a task to a person",
            cases::task_reassign,
        )
        .add(
            post.clone(),
            "/api/v1/cases/{id}/acknowledge",
            Needs(AcknowledgeCases),
            "Acknowledge a case's grade escalation",
            cases::acknowledge,
        )
        .add(post.clone(), "/api/v1/cases/{id}/monitor", Needs(CloseCases), "Handling done: monitoring", cases::monitor)
        .add(post.clone(), "/api/v1/cases/{id}/close", Needs(CloseCases), "Close a case", cases::close)
        .add(post.clone(), "/api/v1/cases/{id}/reopen", Needs(CloseCases), "Reopen a closed case", cases::reopen)
        .add(post.clone(), "/api/v1/cases/{id}/review", Needs(ReviewCases), "Write the review", cases::review)
        .add(
            post.clone(),
            "/api/v1/cases/{id}/review/approve",
            Needs(ApproveReviews),
            "Approve the review (closed → reviewed)",
            cases::approve,
        )
        .add(
            post.clone(),
            "/api/v1/cases/{id}/review/proposals/{action}",
            Needs(EditTopics),
            "Accept or reject a rule change a review proposes",
            cases::decide_proposal,
        )
        .add(get, "/api/v1/units/figures", Needs(ReadFigures), "Per-unit figures for a year (考核)", cases::figures);
    (r.router, r.specs)
}

/// A route's row in the docs' table.
#[derive(Debug, Serialize)]
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
