//! Tidewatch workflow: who is on duty, and how an alert climbs until someone owns it. Pure state
//! machines: no I/O, the clock is passed in; the engine keeps their state in the store.
//!
//! - [`rota`]: rotations (daily, weekly, custom, weekday-only, hours of cover) in real time zones,
//!   layered schedules, overrides on overrides, shift swaps, hand-offs.
//! - [`alerts`]: signals grouped per story into alerts (group wait, interval, repeat), silences,
//!   inhibition by open cases, the routing tree, the alert lifecycle.
//! - [`escalation`]: ordered steps with delays, empty steps skipped, repeats, acknowledgement,
//!   manual escalation past a step (越级上报).
//! - [`cases`]: the case state machine (new → assessing → handling → monitoring → closed →
//!   reviewed, reopen), grades, classifications and their playbooks, task deadlines, reminders
//!   and misses; [`calendar`]: working days and hours per unit, holidays, adjusted working days.
//! - [`responses`]: official responses, their versions and approval chains (who approves which
//!   step, nobody their own draft, one step per person), publication records; [`claims`]: the
//!   registry of claims, the stances of items, the effect of a clarification.
//! - [`notify`]: messages in Chinese or English, signed expiring acknowledge links, and the
//!   requests of each channel (webhook, Slack, DingTalk, WeCom, Feishu) with their signing.

pub mod access;
pub mod alerts;
pub mod calendar;
pub mod cases;
pub mod claims;
pub mod escalation;
pub mod notify;
pub mod responses;
pub mod rota;
