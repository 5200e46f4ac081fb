//! The scenario of the alerting issue, on the state machines alone (the engine will drive the
//! same ones from the store): a burst on a story alerts the on-duty officer of the owning unit;
//! with no acknowledgement the unit lead is notified after the delay; an empty step is skipped;
//! acknowledging stops the escalation; a second burst on the same story updates the alert
//! instead of raising a new one.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use tidewatch_workflow::alerts::{Alerts, Decision, Reason, Severity, SignalIn, Timing};
use tidewatch_workflow::escalation::{Escalation, Fired, Policy, Step, Target};
use tidewatch_workflow::rota::{Cover, Period, Rotation, Schedule};

fn at(h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai.with_ymd_and_hms(2026, 11, 26, h, m, 0).unwrap().with_timezone(&Utc)
}

#[test]
fn a_burst_climbs_the_ladder_until_acknowledged_and_a_second_burst_updates_the_alert() {
    let logistics = Schedule {
        layers: vec![Rotation {
            name: "后勤值班".into(),
            zone: chrono_tz::Asia::Shanghai,
            members: vec!["赵".into(), "钱".into()],
            start: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            handoff: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
            period: Period::Day,
            weekdays: vec![],
            cover: Cover::FullDay,
        }],
        overrides: vec![],
    };
    let resolve = |t: &Target, when: DateTime<Utc>| -> Vec<String> {
        match t {
            Target::OnDuty(unit) if unit == "后勤" => {
                logistics.on_duty(when).map(|s| vec![s.person]).unwrap_or_default()
            }
            Target::UnitLead(unit) if unit == "后勤" => vec!["后勤处长".into()],
            // The leading group's duty deputy is not appointed: an empty step.
            Target::Person(p) if p == "deputy" => vec![],
            Target::Person(p) => vec![p.clone()],
            _ => vec![],
        }
    };
    let policy = Policy {
        name: "后勤".into(),
        steps: vec![
            Step { targets: vec![Target::OnDuty("后勤".into())], delay_minutes: 10.0 },
            Step { targets: vec![Target::Person("deputy".into())], delay_minutes: 10.0 },
            Step { targets: vec![Target::UnitLead("后勤".into())], delay_minutes: 15.0 },
            Step { targets: vec![Target::Person("领导小组组长".into())], delay_minutes: 30.0 },
        ],
        repeat: 0,
    };
    let burst = |id: i64, when| SignalIn {
        id,
        kind: "burst".into(),
        severity: Severity::High,
        at: when,
        topic: Some("food-safety".into()),
        unit: Some("后勤".into()),
        story: Some("42".into()),
        title: "Burst on topic food-safety".into(),
        details: vec!["observed 12, expected 1.2".into()],
    };

    let mut alerts = Alerts::new(Timing::default());
    let t0 = at(12, 0);
    assert_eq!(alerts.ingest(&burst(1, t0), t0), Decision::NewAlert(1));
    assert!(alerts.due(t0 + Duration::seconds(10)).is_empty(), "group wait");
    let first = alerts.due(t0 + Duration::seconds(30));
    assert_eq!(first, vec![(1, Reason::First)]);
    let mut escalation = Escalation::start(policy, t0 + Duration::seconds(30));

    // The on-duty officer of the owning unit (赵 has the 26th from 08:00).
    let fired = escalation.due(t0 + Duration::seconds(30), &resolve);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].fired, Fired::Notified(vec!["赵".into()]));
    // No acknowledgement: after ten minutes the deputy step is empty and skipped at once, and
    // the unit lead is notified.
    assert!(escalation.due(t0 + Duration::minutes(10), &resolve).is_empty(), "not yet: 10 min after 12:00:30");
    let fired = escalation.due(t0 + Duration::seconds(30) + Duration::minutes(10), &resolve);
    assert_eq!(
        fired.iter().map(|r| r.fired.clone()).collect::<Vec<_>>(),
        vec![Fired::Skipped, Fired::Notified(vec!["后勤处长".into()])]
    );
    assert_eq!(fired[1].at, t0 + Duration::seconds(30) + Duration::minutes(10));
    // The lead acknowledges: nothing more fires, the head is never called.
    escalation.acknowledge("后勤处长", t0 + Duration::minutes(12));
    alerts.acknowledge(1, "后勤处长", t0 + Duration::minutes(12)).unwrap();
    assert!(escalation.due(t0 + Duration::hours(5), &resolve).is_empty());

    // A second burst on the same story an hour later updates the alert.
    let t1 = at(13, 0);
    assert_eq!(alerts.ingest(&burst(2, t1), t1), Decision::Updated(1));
    assert_eq!(alerts.due(t1 + Duration::minutes(5)), vec![(1, Reason::Update)]);
    assert_eq!(alerts.alerts.len(), 1, "one event, one alert");
}
