//! One module per subcommand.

pub(crate) mod alerts;
pub(crate) mod analyze;
pub(crate) mod audit;
pub(crate) mod bench;
pub(crate) mod bench_alerting;
pub(crate) mod bench_scale;
pub(crate) mod cases;
pub(crate) mod demo;
pub(crate) mod feed;
pub(crate) mod import;
pub(crate) mod matching;
pub(crate) mod poll;
pub(crate) mod search;
pub(crate) mod sentiment;
pub(crate) mod serve;
pub(crate) mod topics;
pub(crate) mod users;
