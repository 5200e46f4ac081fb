#!/usr/bin/env bash
# The whole test suite: formatting, lints, crate arrows, and every test.
# Needs the Rust toolchain (stable with rustfmt and clippy, plus nightly for the fuzzer) and
# python3; installs cargo-fuzz from crates.io if it is missing. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== crate arrows"
python3 scripts/check_arrows.py
echo "== test tools from PyPI: aiosmtpd (a real SMTP server for the email tests)"
TEST_VENV=target/test-venv
[ -x "$TEST_VENV/bin/python" ] || python3 -m venv "$TEST_VENV"
"$TEST_VENV/bin/python" -c "import aiosmtpd" 2>/dev/null || "$TEST_VENV/bin/pip" install -q aiosmtpd==1.4.6
export TIDEWATCH_TEST_PYTHON="$PWD/$TEST_VENV/bin/python"
echo "== tests"
# --nocapture: tests that measure (near-duplicate precision/recall, the SIGKILL import) print figures.
cargo test --workspace --locked -- --nocapture
# The CLI's integration tests made cargo build target/debug/tidewatch with the features unified
# across the workspace; a separate `cargo build --bin tidewatch` would resolve features anew and
# rebuild half the dependency tree a second time (time and disk), so the scripts below use it.
[ -x target/debug/tidewatch ] || { echo "target/debug/tidewatch was not built by cargo test" >&2; exit 1; }
echo "== feed conformance (feedparser's own test files)"
python3 scripts/feed_conformance.py target/debug/tidewatch crates/ingest/tests/fixtures/feedparser
echo "== quality on the labelled corpora: near-duplicates against datasketch MinHash-LSH, story grouping (B-cubed), language of short texts against langid.py, sentiment against cnsenti and VADER (snownlp too with TIDEWATCH_EVAL_FULL=1)"
EVAL_DIR="${TIDEWATCH_EVAL_DIR:-../shared/eval}"
if [ -d "$EVAL_DIR" ]; then
    python3 scripts/dedup_eval.py --tidewatch target/debug/tidewatch --eval-dir "$EVAL_DIR"
    python3 scripts/story_eval.py --tidewatch target/debug/tidewatch --eval-dir "$EVAL_DIR"
    python3 scripts/lang_eval.py --tidewatch target/debug/tidewatch --eval-dir "$EVAL_DIR"
    python3 scripts/sentiment_eval.py --tidewatch target/debug/tidewatch --eval-dir "$EVAL_DIR"
else
    echo "no evaluation corpora at $EVAL_DIR (set TIDEWATCH_EVAL_DIR): quality figures not measured"
fi
echo "== web page in headless Chromium"
if ! command -v chromium >/dev/null 2>&1; then
    # Debian's package; as root on the CI machine, through sudo elsewhere.
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get install -y --no-install-recommends chromium >/dev/null \
        || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends chromium >/dev/null; }
fi
# A CJK font, so that the screenshots' Chinese is readable (Debian's Noto CJK).
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get install -y --no-install-recommends fonts-noto-cjk fontconfig >/dev/null \
        || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends fonts-noto-cjk fontconfig >/dev/null; }
fi
(cd tests/ui && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
node tests/ui/run.mjs target/debug/tidewatch
echo "== the workspace in headless Chromium: role flows, axe-core, both languages (screenshots: target/ui-screenshots)"
node tests/ui/workspace.mjs target/debug/tidewatch
echo "== fuzzing the rule parser and evaluators (${TIDEWATCH_FUZZ_SECONDS:-30} s)"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
status=0
(cd fuzz && cargo +nightly fuzz run rules "$work/corpus" seeds/rules -- \
    -max_total_time="${TIDEWATCH_FUZZ_SECONDS:-30}" -print_final_stats=1) >"$work/log" 2>&1 || status=$?
grep -E "^stat::number_of_executed_units|^Done" "$work/log" || true
if [ "$status" -ne 0 ]; then
    tail -60 "$work/log" >&2
    echo "fuzzing failed (exit $status); the crashing input is in fuzz/artifacts/rules/" >&2
    exit 1
fi
echo "== all tests passed"
