//! Who may do what: roles, the actions they allow, and grants held for a unit or for all.
//!
//! [`PERMISSIONS`] is the one table of role × action. Every route of the server names the
//! [`Action`] it needs where it is defined (`tidewatch-web`'s route table), and the API docs and
//! the OpenAPI document print this table; nothing else decides what a role may do.
//!
//! A [`Grant`] is a role held for one unit (and every unit under it) or for all units. An account
//! may hold several. [`Grants::allows`] answers "may this actor do `action` (on something of
//! `unit`)?" given the unit tree ([`UnitTree`]): pure, no I/O.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The roles of DESIGN.md §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 值班员: watches the dashboard, acknowledges alerts, opens cases, files first reports.
    DutyOfficer,
    /// 研判员: assesses and classifies cases, drafts responses, writes reports.
    Analyst,
    /// 审核人: approves or returns statements and escalations.
    Approver,
    /// 责任单位负责人: owns the cases of their unit, answers inquiries.
    UnitLead,
    /// 管理员: sources, topics, units and people, rota, channels, accounts, retention.
    Admin,
}

impl Role {
    /// Every role, in the order of DESIGN.md §1.
    pub const ALL: [Role; 5] = [Role::DutyOfficer, Role::Analyst, Role::Approver, Role::UnitLead, Role::Admin];

    /// The role's name in the API (`duty_officer`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::DutyOfficer => "duty_officer",
            Role::Analyst => "analyst",
            Role::Approver => "approver",
            Role::UnitLead => "unit_lead",
            Role::Admin => "admin",
        }
    }

    /// The role's Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Role::DutyOfficer => "值班员",
            Role::Analyst => "研判员",
            Role::Approver => "审核人",
            Role::UnitLead => "责任单位负责人",
            Role::Admin => "管理员",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What a request does. Each route needs exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read items, stories, groups, search, the live stream, topics and their counts, signals.
    ReadItems,
    /// Run a draft rule over stored items (reads only) and check rules.
    Backtest,
    /// Save topics and their rules.
    EditTopics,
    /// See the sources and their health.
    ReadSources,
    /// Add, replace and remove sources.
    EditSources,
    /// Let a source fetch private or loopback addresses (opens the SSRF guard).
    OpenFetchGuard,
    /// See alerts, their escalation and notifications (channel secrets redacted).
    ReadAlerts,
    /// Acknowledge and resolve alerts.
    ActOnAlerts,
    /// Escalate an alert, also past a step (越级上报).
    EscalateAlerts,
    /// Mute matching signals for a time.
    Silence,
    /// See who is on duty.
    ReadRota,
    /// Overrides and swaps in a unit's rota.
    EditRota,
    /// See units and people (with their contact points).
    ReadDirectory,
    /// Add and edit units and people.
    EditDirectory,
    /// Accounts, their roles, API tokens, lockouts.
    ManageAccounts,
    /// Read the audit log.
    ReadAudit,
    /// Settings: the retention period.
    EditSettings,
    /// See cases, their timelines and reviews.
    ReadCases,
    /// Open a case (from an alert, a story or items).
    OpenCases,
    /// File first and follow-up reports, add and remove evidence, edit title, owner, participants.
    ReportCases,
    /// Grade and classify a case (研判).
    AssessCases,
    /// Give a task to a person.
    AssignTasks,
    /// Mark a task done (the caller must also hold the task's role for the case's unit).
    WorkTasks,
    /// Acknowledge a case's grade escalation.
    AcknowledgeCases,
    /// Move a case to monitoring, close it, reopen it.
    CloseCases,
    /// Write the review of a closed case.
    ReviewCases,
    /// Approve a review (closed → reviewed).
    ApproveReviews,
    /// Per-unit figures (考核).
    ReadFigures,
    /// Draft responses, edit them, submit them to their chain.
    DraftResponses,
    /// Approve or return a response (the chain's step decides who exactly).
    ApproveResponses,
    /// Record that an approved response was published.
    PublishResponses,
    /// Register claims, set their status, link items to them.
    ManageClaims,
    /// Read the process's counters and stage timings (`/metrics`, for Prometheus).
    ReadMetrics,
}

impl Action {
    /// The action's name in the API and docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ReadItems => "read_items",
            Action::Backtest => "backtest",
            Action::EditTopics => "edit_topics",
            Action::ReadSources => "read_sources",
            Action::EditSources => "edit_sources",
            Action::OpenFetchGuard => "open_fetch_guard",
            Action::ReadAlerts => "read_alerts",
            Action::ActOnAlerts => "act_on_alerts",
            Action::EscalateAlerts => "escalate_alerts",
            Action::Silence => "silence",
            Action::ReadRota => "read_rota",
            Action::EditRota => "edit_rota",
            Action::ReadDirectory => "read_directory",
            Action::EditDirectory => "edit_directory",
            Action::ManageAccounts => "manage_accounts",
            Action::ReadAudit => "read_audit",
            Action::EditSettings => "edit_settings",
            Action::ReadCases => "read_cases",
            Action::OpenCases => "open_cases",
            Action::ReportCases => "report_cases",
            Action::AssessCases => "assess_cases",
            Action::AssignTasks => "assign_tasks",
            Action::WorkTasks => "work_tasks",
            Action::AcknowledgeCases => "acknowledge_cases",
            Action::CloseCases => "close_cases",
            Action::ReviewCases => "review_cases",
            Action::ApproveReviews => "approve_reviews",
            Action::ReadFigures => "read_figures",
            Action::DraftResponses => "draft_responses",
            Action::ApproveResponses => "approve_responses",
            Action::PublishResponses => "publish_responses",
            Action::ManageClaims => "manage_claims",
            Action::ReadMetrics => "read_metrics",
        }
    }
}

use Role::{Admin, Analyst, Approver, DutyOfficer, UnitLead};

const EVERYONE: &[Role] = &[DutyOfficer, Analyst, Approver, UnitLead, Admin];

/// The permission table: for each action, the roles that allow it.
pub const PERMISSIONS: &[(Action, &[Role])] = &[
    (Action::ReadItems, EVERYONE),
    (Action::Backtest, &[Analyst, UnitLead, Admin]),
    (Action::EditTopics, &[Admin]),
    (Action::ReadSources, EVERYONE),
    (Action::EditSources, &[Admin]),
    (Action::OpenFetchGuard, &[Admin]),
    (Action::ReadAlerts, EVERYONE),
    (Action::ActOnAlerts, &[DutyOfficer, Analyst, UnitLead, Admin]),
    (Action::EscalateAlerts, EVERYONE),
    (Action::Silence, &[DutyOfficer, UnitLead, Admin]),
    (Action::ReadRota, EVERYONE),
    (Action::EditRota, &[UnitLead, Admin]),
    (Action::ReadDirectory, &[UnitLead, Admin]),
    (Action::EditDirectory, &[Admin]),
    (Action::ManageAccounts, &[Admin]),
    (Action::ReadAudit, &[UnitLead, Admin]),
    (Action::EditSettings, &[Admin]),
    (Action::ReadCases, EVERYONE),
    (Action::OpenCases, &[DutyOfficer, Analyst, UnitLead, Admin]),
    (Action::ReportCases, &[DutyOfficer, Analyst, UnitLead, Admin]),
    (Action::AssessCases, &[Analyst, Admin]),
    (Action::AssignTasks, &[Analyst, UnitLead, Admin]),
    (Action::WorkTasks, &[DutyOfficer, Analyst, UnitLead, Admin]),
    (Action::AcknowledgeCases, &[Approver, UnitLead, Admin]),
    (Action::CloseCases, &[Analyst, UnitLead, Admin]),
    (Action::ReviewCases, &[Analyst, Admin]),
    (Action::ApproveReviews, &[UnitLead, Admin]),
    (Action::ReadFigures, &[Analyst, UnitLead, Admin]),
    (Action::DraftResponses, &[Analyst, UnitLead, Admin]),
    (Action::ApproveResponses, &[Analyst, Approver, UnitLead, Admin]),
    (Action::PublishResponses, &[Analyst, UnitLead, Admin]),
    (Action::ManageClaims, &[Analyst, UnitLead, Admin]),
    (Action::ReadMetrics, &[Admin]),
];

/// Whether `role` allows `action` at all (for some unit).
pub fn role_allows(role: Role, action: Action) -> bool {
    PERMISSIONS.iter().any(|(a, roles)| *a == action && roles.contains(&role))
}

/// A role held for one unit (and the units under it), or for all units (`unit: None`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// The unit it is held for; `None` for all.
    #[serde(default)]
    pub unit: Option<String>,
}

impl Grant {
    /// `role` or `role@unit`, as the command line writes a grant.
    pub fn parse(s: &str) -> Option<Grant> {
        let (role, unit) = match s.split_once('@') {
            Some((r, u)) if !u.trim().is_empty() => (r, Some(u.trim().to_string())),
            Some(_) => return None,
            None => (s, None),
        };
        Some(Grant { role: Role::parse(role.trim())?, unit })
    }
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.unit {
            Some(u) => write!(f, "{}@{u}", self.role.as_str()),
            None => f.write_str(self.role.as_str()),
        }
    }
}

/// Units and their parents, to decide whether a grant for a unit covers another.
#[derive(Debug, Clone, Default)]
pub struct UnitTree {
    parent: HashMap<String, String>,
}

impl UnitTree {
    /// The tree from `(unit, parent)` pairs.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> UnitTree {
        UnitTree { parent: pairs.into_iter().filter_map(|(u, p)| p.map(|p| (u.to_string(), p.to_string()))).collect() }
    }

    /// Whether `unit` is `ancestor` or lies under it. Cycles (which the store refuses) end the walk.
    pub fn within(&self, unit: &str, ancestor: &str) -> bool {
        let mut at = unit;
        for _ in 0..=self.parent.len() {
            if at == ancestor {
                return true;
            }
            match self.parent.get(at) {
                Some(p) => at = p,
                None => return false,
            }
        }
        false
    }
}

/// What one actor holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Grants(pub Vec<Grant>);

impl Grants {
    /// Whether some grant allows `action` anywhere (the check every route makes first).
    pub fn allows_somewhere(&self, action: Action) -> bool {
        self.0.iter().any(|g| role_allows(g.role, action))
    }

    /// Whether some grant allows `action` on all units.
    pub fn allows_everywhere(&self, action: Action) -> bool {
        self.0.iter().any(|g| g.unit.is_none() && role_allows(g.role, action))
    }

    /// Whether `action` is allowed on something belonging to `unit` (`None`: belonging to no
    /// unit, which only grants for all units cover).
    pub fn allows(&self, action: Action, unit: Option<&str>, tree: &UnitTree) -> bool {
        self.0.iter().filter(|g| role_allows(g.role, action)).any(|g| match (&g.unit, unit) {
            (None, _) => true,
            (Some(held), Some(u)) => tree.within(u, held),
            (Some(_), None) => false,
        })
    }

    /// The units `action` is allowed on, `None` meaning all.
    pub fn units_for(&self, action: Action) -> Option<Vec<String>> {
        let mut units = Vec::new();
        for g in self.0.iter().filter(|g| role_allows(g.role, action)) {
            match &g.unit {
                None => return None,
                Some(u) => units.push(u.clone()),
            }
        }
        Some(units)
    }

    /// These grants narrowed to those also held in `within` (an API token cannot hold more than
    /// its account).
    pub fn narrowed_to(&self, within: &Grants, tree: &UnitTree) -> Grants {
        Grants(
            self.0
                .iter()
                .filter(|g| {
                    within.0.iter().any(|w| {
                        w.role == g.role
                            && match (&w.unit, &g.unit) {
                                (None, _) => true,
                                (Some(wu), Some(gu)) => tree.within(gu, wu),
                                (Some(_), None) => false,
                            }
                    })
                })
                .cloned()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> Grant {
        Grant::parse(s).unwrap()
    }

    #[test]
    fn every_action_is_in_the_table_once() {
        let mut seen: Vec<Action> = PERMISSIONS.iter().map(|(a, _)| *a).collect();
        let n = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), n, "an action appears twice");
        assert_eq!(n, 33, "an action is missing from PERMISSIONS");
    }

    #[test]
    fn a_unit_grant_covers_the_units_under_it_only() {
        let tree =
            UnitTree::new([("后勤集团", Some("领导小组")), ("食堂", Some("后勤集团")), ("教务处", Some("领导小组"))]);
        let lead = Grants(vec![g("unit_lead@后勤集团")]);
        assert!(lead.allows(Action::EditRota, Some("食堂"), &tree));
        assert!(lead.allows(Action::EditRota, Some("后勤集团"), &tree));
        assert!(!lead.allows(Action::EditRota, Some("教务处"), &tree));
        assert!(!lead.allows(Action::EditRota, None, &tree));
        assert!(!lead.allows(Action::EditTopics, Some("食堂"), &tree), "a unit lead does not edit topics");
        let admin = Grants(vec![g("admin")]);
        assert!(admin.allows(Action::EditTopics, None, &tree));
        assert_eq!(lead.units_for(Action::ReadAudit), Some(vec!["后勤集团".to_string()]));
        assert_eq!(admin.units_for(Action::ReadAudit), None);
    }

    #[test]
    fn cycles_in_the_tree_end_the_walk() {
        let tree = UnitTree::new([("a", Some("b")), ("b", Some("a"))]);
        assert!(!tree.within("a", "c"));
        assert!(tree.within("a", "b"));
    }

    #[test]
    fn a_token_holds_no_more_than_its_account() {
        let tree = UnitTree::new([("食堂", Some("后勤集团"))]);
        let account = Grants(vec![g("unit_lead@后勤集团"), g("duty_officer")]);
        let asked = Grants(vec![g("admin"), g("unit_lead@食堂"), g("unit_lead"), g("duty_officer@食堂")]);
        assert_eq!(asked.narrowed_to(&account, &tree), Grants(vec![g("unit_lead@食堂"), g("duty_officer@食堂")]));
    }

    #[test]
    fn grants_parse_and_print() {
        assert_eq!(g("analyst@教务处").to_string(), "analyst@教务处");
        assert!(Grant::parse("king").is_none());
        assert!(Grant::parse("admin@").is_none());
    }
}
