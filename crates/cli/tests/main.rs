//! The command-line tests, one binary (one link instead of one per file).

mod alerting_server;
mod analyze_and_search;
mod bench_scale;
mod common;
mod demo_server;
mod feed_corpus;
mod import_bad_input;
mod kill_import;
mod sources;
mod topics_cli;
mod webhook;
