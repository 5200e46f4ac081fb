#!/usr/bin/env bash
# The whole test suite: formatting, lints, crate arrows, and every test.
# Needs only the Rust toolchain (cargo, rustfmt, clippy) and python3; run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== crate arrows"
python3 scripts/check_arrows.py
echo "== tests"
# --nocapture: tests that measure (near-duplicate precision/recall, the SIGKILL import) print figures.
cargo test --workspace --locked -- --nocapture
echo "== all tests passed"
