//! The engine's integration tests, one binary (one link instead of one per file).

mod accounts;
mod alerting;
mod analysis;
mod cases;
mod near_duplicates;
mod retention;
mod smtp;
mod topics;
