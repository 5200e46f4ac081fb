//! Responses and approval chains: chain selection by unit, classification and grade (a table),
//! the approval rules (nobody approves their own draft, one step per person, a superseded
//! version is refused, an edit restarts the chain), overdue steps escalate once; and a claim's
//! counts before and after its clarification.

use chrono::{DateTime, Duration, TimeZone, Utc};
use tidewatch_workflow::access::Role;
use tidewatch_workflow::cases::{Classification, Grade};
use tidewatch_workflow::claims::{Claim, ClaimStatus, Stance};
use tidewatch_workflow::responses::*;

fn t(m: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 2, 0, 0).unwrap() + Duration::minutes(m)
}

fn rules() -> ChainRules {
    let mut r = ChainRules::default();
    r.chains.push(Chain {
        name: "canteen".into(),
        steps: vec![ChainStep {
            name: "食堂主任".into(),
            approver: ApproverSpec::Person("li".into()),
            required: 1,
            hours: 2.0,
        }],
    });
    r.rules.insert(
        0,
        ChainRule {
            unit: Some("后勤集团".into()),
            classification: Some(Classification::Inquiry),
            min_grade: None,
            chain: "canteen".into(),
        },
    );
    r.rules.push(ChainRule { unit: None, classification: None, min_grade: Some(Grade::I), chain: "grade_i".into() });
    r
}

#[test]
fn the_chain_is_the_first_matching_rule_by_unit_classification_and_grade() {
    let r = rules();
    assert_eq!(r.check(), Ok(()));
    let table: &[(&str, Option<Classification>, Option<Grade>, &str)] = &[
        ("后勤集团", Some(Classification::Inquiry), Some(Grade::IV), "canteen"),
        ("后勤集团", Some(Classification::Inquiry), Some(Grade::I), "canteen"),
        ("教务处", Some(Classification::Inquiry), Some(Grade::IV), "procedure"),
        ("后勤集团", Some(Classification::Fabrication), Some(Grade::I), "fabrication"),
        ("教务处", Some(Classification::Fabrication), None, "fabrication"),
        ("教务处", Some(Classification::Hype), Some(Grade::I), "grade_i"),
        ("教务处", Some(Classification::Hype), Some(Grade::II), "procedure"),
        ("教务处", None, None, "procedure"),
    ];
    for (unit, c, g, want) in table {
        assert_eq!(r.select(unit, *c, *g).map(|c| c.name.as_str()), Some(*want), "{unit} {c:?} {g:?}");
    }
    let mut bad = rules();
    bad.rules.push(ChainRule { unit: None, classification: None, min_grade: None, chain: "nothing".into() });
    assert!(bad.check().unwrap_err().contains("nothing"));
}

/// Who holds what in the test: wang heads 后勤集团, fa the legal office, zhao is a deputy head,
/// xu holds both the section head and deputy roles.
struct People;

impl Qualifies for People {
    fn qualifies(&self, spec: &ApproverSpec, _unit: &str) -> bool {
        unreachable!("{spec:?}")
    }
    fn people_for(&self, spec: &ApproverSpec, _unit: &str) -> Vec<String> {
        match spec {
            ApproverSpec::Role { role: Role::UnitLead, unit: UnitRef::CaseUnit } => vec!["wang".into(), "xu".into()],
            ApproverSpec::Role { role: Role::UnitLead, unit: UnitRef::Named(_) } => vec!["fa".into()],
            ApproverSpec::Role { role: Role::Approver, .. } => vec!["zhao".into(), "xu".into()],
            _ => vec![],
        }
    }
    fn lead(&self, _unit: &str) -> Option<String> {
        Some("wang".into())
    }
}

/// The qualification of one actor.
struct As<'a>(&'a str);

impl Qualifies for As<'_> {
    fn qualifies(&self, spec: &ApproverSpec, unit: &str) -> bool {
        People.people_for(spec, unit).iter().any(|p| p == self.0)
    }
    fn people_for(&self, spec: &ApproverSpec, unit: &str) -> Vec<String> {
        People.people_for(spec, unit)
    }
    fn lead(&self, unit: &str) -> Option<String> {
        People.lead(unit)
    }
}

fn three_steps() -> Chain {
    let s = |name: &str, approver| ChainStep { name: name.into(), approver, required: 1, hours: 4.0 };
    Chain {
        name: "fabrication".into(),
        steps: vec![
            s("section head", ApproverSpec::Role { role: Role::UnitLead, unit: UnitRef::CaseUnit }),
            s("legal office", ApproverSpec::Role { role: Role::UnitLead, unit: UnitRef::Named("法务处".into()) }),
            s("deputy head", ApproverSpec::Role { role: Role::Approver, unit: UnitRef::LeadingGroup }),
        ],
    }
}

fn draft() -> Draft {
    Draft {
        kind: ResponseKind::Clarification,
        lang: "zh".into(),
        title: "关于网传三食堂致多人中毒的情况说明".into(),
        body: "经查，网传信息不实。".into(),
        places: vec![Place::OfficialAccount],
        audience: "师生".into(),
        claim: Some(1),
        corrects: None,
    }
}

#[test]
fn approvals_follow_the_chain_and_its_rules() {
    let (mut r, _) = Response::new(1, 7, "后勤集团", draft(), three_steps(), "xu", t(0)).unwrap();
    // Approving a draft is a transition error; submitting asks the section heads.
    assert!(matches!(
        r.apply(Event::Approve { version: 1, comment: String::new() }, "wang", t(1), &As("wang")),
        Err(ResponseError::Transition { .. })
    ));
    let out = r.apply(Event::Submit, "xu", t(1), &As("xu")).unwrap();
    assert_eq!(out.notify[0].to, vec!["wang".to_string()], "the drafter is not asked to approve");
    // The drafter cannot approve their own draft, even holding the role.
    assert_eq!(
        r.apply(Event::Approve { version: 1, comment: String::new() }, "xu", t(2), &As("xu")),
        Err(ResponseError::OwnDraft)
    );
    // Someone without the role cannot either.
    assert!(matches!(
        r.apply(Event::Approve { version: 1, comment: String::new() }, "fa", t(2), &As("fa")),
        Err(ResponseError::NotApprover(_))
    ));
    r.apply(Event::Approve { version: 1, comment: "可".into() }, "wang", t(3), &As("wang")).unwrap();
    assert_eq!((r.state, r.step), (ResponseState::InReview, 1));
    // The legal office returns it with a comment.
    assert!(matches!(
        r.apply(Event::Return { version: 1, comment: " ".into() }, "fa", t(4), &As("fa")),
        Err(ResponseError::Field(..))
    ));
    r.apply(Event::Return { version: 1, comment: "“不实”改为“与事实不符”".into() }, "fa", t(4), &As("fa")).unwrap();
    assert_eq!(r.state, ResponseState::Draft);
    // An edit makes version 2; a decision on version 1 is refused as superseded.
    r.apply(Event::Edit { title: draft().title, body: "经查，网传信息与事实不符。".into() }, "xu", t(5), &As("xu"))
        .unwrap();
    r.apply(Event::Submit, "xu", t(6), &As("xu")).unwrap();
    assert_eq!(
        r.apply(Event::Approve { version: 1, comment: String::new() }, "wang", t(7), &As("wang")),
        Err(ResponseError::Superseded { version: 1, current: 2 })
    );
    // The chain restarts: wang's approval of version 1 does not count for version 2.
    assert_eq!(r.step, 0);
    r.apply(Event::Approve { version: 2, comment: String::new() }, "wang", t(7), &As("wang")).unwrap();
    r.apply(Event::Approve { version: 2, comment: String::new() }, "fa", t(8), &As("fa")).unwrap();
    // The last step: zhao approves; publishing records where.
    r.apply(Event::Approve { version: 2, comment: String::new() }, "zhao", t(9), &As("zhao")).unwrap();
    assert_eq!(r.state, ResponseState::Approved);
    assert!(
        r.apply(Event::Edit { title: "x".into(), body: "y".into() }, "xu", t(10), &As("xu")).is_ok(),
        "an edit after approval…"
    );
    assert_eq!(r.state, ResponseState::Draft, "…starts the chain again");
    for who in ["wang", "fa", "zhao"] {
        if r.state == ResponseState::Draft {
            r.apply(Event::Submit, "xu", t(11), &As("xu")).unwrap();
        }
        r.apply(Event::Approve { version: 3, comment: String::new() }, who, t(12), &As(who)).unwrap();
    }
    let out = r
        .apply(
            Event::Publish { places: vec![(Place::OfficialAccount, Some("https://weibo.example/1".into()))] },
            "xu",
            t(13),
            &As("xu"),
        )
        .unwrap();
    assert_eq!(out.entries[0].0, "response_published");
    assert_eq!(r.state, ResponseState::Published);
    assert!(
        matches!(
            r.apply(Event::Edit { title: "x".into(), body: "y".into() }, "xu", t(14), &As("xu")),
            Err(ResponseError::Transition { .. })
        ),
        "published: immutable"
    );
}

#[test]
fn one_person_approves_one_step_of_a_version_and_overdue_steps_escalate_once() {
    // xu holds both the section head and the deputy role; the drafter is li.
    let (mut r, _) = Response::new(2, 7, "后勤集团", draft(), three_steps(), "li", t(0)).unwrap();
    r.apply(Event::Submit, "li", t(0), &As("li")).unwrap();
    r.apply(Event::Approve { version: 1, comment: String::new() }, "xu", t(1), &As("xu")).unwrap();
    r.apply(Event::Approve { version: 1, comment: String::new() }, "fa", t(2), &As("fa")).unwrap();
    assert_eq!(
        r.apply(Event::Approve { version: 1, comment: String::new() }, "xu", t(3), &As("xu")),
        Err(ResponseError::TwoSteps)
    );
    // The deputy step (4 h) is overdue at 2:02 + 4 h: escalated to its approvers and the unit lead, once.
    assert!(r.apply(Event::Tick, "system", t(200), &People).unwrap().notify.is_empty());
    let out = r.apply(Event::Tick, "system", t(2 + 240), &People).unwrap();
    assert_eq!(out.notify.len(), 1);
    assert_eq!(out.notify[0].to, vec!["wang".to_string(), "xu".into(), "zhao".into()]);
    assert!(r.apply(Event::Tick, "system", t(300), &People).unwrap().notify.is_empty(), "once");
}

#[test]
fn a_claims_counts_split_at_the_clarification() {
    let mut c = Claim {
        id: 1,
        case_id: 7,
        text: "三食堂饭菜致多人中毒".into(),
        key_terms: vec!["三食堂".into(), "中毒".into()],
        first_seen: t(0),
        status: ClaimStatus::False,
        status_evidence: "疾控检测报告".into(),
        status_by: None,
        items: vec![],
        clarified: None,
        created_by: "xu".into(),
        created_at: t(0),
    };
    assert!(c.effect(3).is_none(), "no clarification yet");
    // Supporting items before (at 2:10, 2:40, 3:20), denying after (4:05, 4:30, 5:10, 5:50), the
    // clarification at 4:00 exactly; an item 10 hours later is outside the window.
    for (i, (m, s)) in [
        (10, Stance::Supporting),
        (40, Stance::Supporting),
        (80, Stance::Supporting),
        (125, Stance::Denying),
        (150, Stance::Denying),
        (190, Stance::Denying),
        (230, Stance::Denying),
        (170, Stance::Supporting),
        (600, Stance::Denying),
    ]
    .iter()
    .enumerate()
    {
        assert!(c.link(i as i64 + 1, *s, t(*m), "xu", t(300)));
    }
    assert!(!c.link(1, Stance::Questioning, t(10), "xu", t(301)), "re-linking changes the stance");
    c.clarified = Some((3, t(120)));
    let e = c.effect(3).unwrap();
    assert_eq!(e.before_totals, (2, 0), "{e:?}");
    assert_eq!(e.after_totals, (1, 4));
    assert_eq!(e.before.len(), 3);
    assert_eq!(e.after.len(), 4);
    assert_eq!((e.after[0].hour, e.after[0].denying), (t(120), 2));
}
