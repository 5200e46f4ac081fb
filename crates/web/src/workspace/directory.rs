//! Units and people (with each person's channels, secrets redacted, and a test notification),
//! accounts and roles, and the settings.

use super::{failed, layout, page_of, when};
use crate::auth::Caller;
use crate::i18n::{t, tf, Lang};
use crate::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use maud::html;
use std::sync::Arc;
use tidewatch_workflow::access::{Action, Role};

/// A role's name in the reader's language.
fn role_name(lang: Lang, r: Role) -> &'static str {
    crate::i18n::lookup(lang, &format!("role.{}", r.as_str())).unwrap_or(r.as_str())
}

/// `GET /directory`: units (the tree, who is responsible) and people (their channels, redacted).
pub async fn directory(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let units = match crate::admin::list_units(State(state.clone()), p.caller.clone()).await {
        Ok(Json(u)) => u,
        Err(e) => return failed(lang, e),
    };
    let people = match crate::admin::list_people(State(state.clone()), p.caller.clone()).await {
        Ok(Json(u)) => u,
        Err(e) => return failed(lang, e),
    };
    let may_edit = p.caller.actor.grants.allows_somewhere(Action::EditDirectory);
    let body = html! {
        section class="card" aria-labelledby="units-h" {
            h2 id="units-h" { (t(lang, "directory.units")) }
            table class="audit" {
                caption class="sr" { (t(lang, "directory.units")) }
                thead { tr {
                    th scope="col" { (t(lang, "directory.unit")) } th scope="col" { (t(lang, "directory.parent")) }
                    th scope="col" { (t(lang, "directory.first")) } th scope="col" { (t(lang, "directory.direct")) }
                } }
                tbody {
                    @for u in &units {
                        tr { td { (u.name) } td { (u.parent.clone().unwrap_or_else(|| "–".into())) }
                            td { (u.first_responsible.clone().unwrap_or_else(|| "–".into())) }
                            td { (u.direct_responsible.clone().unwrap_or_else(|| "–".into())) } }
                    }
                }
            }
            @if may_edit {
                details {
                    summary { (t(lang, "directory.edit_unit")) }
                    form class="act" data-method="PUT" data-api-template="/api/v1/units/{id}" {
                        label { (t(lang, "directory.unit")) input name="id" required data-in-url="1"; }
                        label { (t(lang, "directory.parent")) input name="parent"; }
                        label { (t(lang, "directory.first")) input name="first_responsible"; }
                        label { (t(lang, "directory.direct")) input name="direct_responsible"; }
                        button type="submit" class="primary" { (t(lang, "directory.save")) }
                        span class="msg" role="alert" {}
                    }
                }
            }
        }
        section class="card" aria-labelledby="people-h" {
            h2 id="people-h" { (t(lang, "directory.people")) }
            ul class="cases" {
                @for person in &people {
                    li id={ "person-" (person.id) } {
                        strong { (person.name) } " · " code { (person.id) } " · " (person.lang)
                        @if let Some(e) = &person.email { " · " (e) }
                        p class="meta" {
                            (t(lang, "directory.channels")) ": "
                            @if person.channels.is_empty() { "–" }
                            @for c in &person.channels { span class="badge" { (c.kind) @if !c.target.is_empty() { " " (c.target) } } " " }
                        }
                        @if may_edit && !person.channels.is_empty() && person.channels.iter().all(|c| !c.kind.is_empty()) {
                            form class="act inline" data-api={ "/api/v1/people/" (person.id) "/test-notification" } data-done=(t(lang, "directory.test_sent")) {
                                button type="submit" { (t(lang, "directory.test")) }
                                span class="msg" role="alert" {}
                            }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        (body)
        @if may_edit {
            section class="card" aria-labelledby="person-h" {
                h2 id="person-h" { (t(lang, "directory.edit_person")) }
                form class="act" data-method="PUT" data-api-template="/api/v1/people/{id}" {
                    label { (t(lang, "directory.person_id")) input name="id" required data-in-url="1" pattern="[A-Za-z0-9._-]{1,100}"; }
                    label { (t(lang, "directory.name")) input name="name" required; }
                    label { (t(lang, "directory.lang"))
                        select name="lang" { option value="zh" { "中文" } option value="en" { "English" } }
                    }
                    label { (t(lang, "directory.email")) input name="email" type="email"; }
                    button type="submit" class="primary" { (t(lang, "directory.save")) }
                    span class="msg" role="alert" {}
                }
                p class="meta" { (t(lang, "directory.channels_kept")) }
            }
        }
    };
    layout(&p, "/directory", t(lang, "directory.title"), body).into_response()
}

/// `GET /accounts`: accounts, their roles, and creating, disabling and unlocking them.
pub async fn accounts(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let list = match crate::admin::list_accounts(State(state.clone()), p.caller.clone()).await {
        Ok(Json(l)) => l,
        Err(e) => return failed(lang, e),
    };
    let roles = [Role::DutyOfficer, Role::Analyst, Role::Approver, Role::UnitLead, Role::Admin];
    let body = html! {
        section class="card" aria-labelledby="acc-h" {
            h2 id="acc-h" { (t(lang, "accounts.list")) }
            table class="audit" {
                caption class="sr" { (t(lang, "accounts.list")) }
                thead { tr {
                    th scope="col" { (t(lang, "accounts.username")) } th scope="col" { (t(lang, "accounts.person")) }
                    th scope="col" { (t(lang, "accounts.roles")) } th scope="col" { (t(lang, "accounts.state")) } th scope="col" { (t(lang, "accounts.acts")) }
                } }
                tbody {
                    @for a in &list {
                        tr id={ "account-" (a.username) } {
                            td { (a.username) } td { (a.person.clone().unwrap_or_else(|| "–".into())) }
                            td { @for g in &a.grants.0 { span class="badge" { (role_name(lang, g.role)) @if let Some(u) = &g.unit { " @" (u) } } " " } }
                            td {
                                @if a.disabled { span class="late" { (t(lang, "accounts.disabled")) } }
                                @else if a.locked_until.is_some() { span class="late" { (t(lang, "accounts.locked")) } }
                                @else { (t(lang, "accounts.active")) }
                                " · " span class="meta" { (when(a.created_at)) }
                            }
                            td {
                                @if a.username != p.caller.actor.username {
                                    form class="act inline" data-api={ "/api/v1/accounts/" (a.username) } data-fixed=(serde_json::json!({"disabled": !a.disabled}).to_string()) {
                                        button type="submit" { (t(lang, if a.disabled { "accounts.enable" } else { "accounts.disable" })) }
                                        span class="msg" role="alert" {}
                                    }
                                }
                                @if a.locked_until.is_some() {
                                    form class="act inline" data-api={ "/api/v1/accounts/" (a.username) } data-fixed=(serde_json::json!({"unlock": true}).to_string()) {
                                        button type="submit" { (t(lang, "accounts.unlock")) }
                                        span class="msg" role="alert" {}
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section class="card" aria-labelledby="new-h" {
            h2 id="new-h" { (t(lang, "accounts.create")) }
            form class="act" data-api="/api/v1/accounts" data-grant="1" {
                label { (t(lang, "accounts.username")) input name="username" required autocomplete="off"; }
                label { (t(lang, "accounts.password")) input name="password" type="password" required minlength="12" autocomplete="new-password"; }
                label { (t(lang, "accounts.role"))
                    select name="role" data-skip="1" { @for r in roles { option value=(r.as_str()) { (role_name(lang, r)) } } }
                }
                label { (t(lang, "accounts.unit")) input name="unit" data-skip="1"; }
                label { (t(lang, "accounts.person")) input name="person"; }
                button type="submit" class="primary" { (t(lang, "accounts.create")) }
                span class="msg" role="alert" {}
            }
        }
    };
    layout(&p, "/accounts", t(lang, "accounts.title"), body).into_response()
}

/// `GET /settings`: retention.
pub async fn settings(State(state): State<Arc<AppState>>, caller: Caller) -> Response {
    let p = match page_of(&state, caller).await {
        Ok(p) => p,
        Err(e) => return failed(Lang::Zh, e),
    };
    let lang = p.lang;
    let s = match crate::admin::settings(State(state.clone()), p.caller.clone()).await {
        Ok(Json(s)) => s,
        Err(e) => return failed(lang, e),
    };
    let body = html! {
        section class="card" aria-labelledby="ret-h" {
            h2 id="ret-h" { (t(lang, "settings.retention")) }
            p { (tf(lang, "settings.retention_now", &[("n", &s.retention_days.to_string())])) }
            form class="act" data-method="PUT" data-api="/api/v1/settings" {
                label { (t(lang, "settings.days")) " " input name="retention_days" type="number" min="1" max="3650" value=(s.retention_days) data-type="number" class="narrow"; }
                button type="submit" class="primary" { (t(lang, "directory.save")) }
                span class="msg" role="alert" {}
            }
            p class="meta" { (t(lang, "settings.channels_note")) " " a href="/directory" { (t(lang, "directory.title")) } }
        }
    };
    layout(&p, "/settings", t(lang, "settings.title"), body).into_response()
}
