//! Tidewatch detection: what the stream of items means. Pure code: no I/O, the clock is passed in.
//!
//! - [`sentiment`]: polarity and score per item, from committed linear models.
//! - [`stories`]: online grouping of items into stories with stable ids.
//! - [`bursts`]: seasonal baselines and Poisson tests per series, each burst with its reason.

pub mod bursts;
pub mod sentiment;
pub mod stories;
