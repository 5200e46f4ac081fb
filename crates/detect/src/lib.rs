//! Tidewatch detection: what the stream of items means. Pure code: no I/O, the clock is passed in.
//!
//! - [`sentiment`]: polarity and score per item, from committed linear models.
//! - [`stories`]: online grouping of items into stories with stable ids.

pub mod sentiment;
pub mod stories;
