#!/usr/bin/env bash
# The fuzz harness (src/fuzz.rs) for longer than CI's smoke pass: every target for
# SECONDS (default 90, so 7 targets take about 10.5 minutes), in release mode, printing
# inputs per second per target. A failure prints the shrunk input; add it under
# fuzz/corpus/<target>/ and as a regression test.
#   scripts/fuzz.sh [SECONDS] [TARGET]      e.g. scripts/fuzz.sh 60 fuzz_csv
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export CARGO_TARGET_DIR="${VBDA_FUZZ_TARGET_DIR:-$HOME/.cache/vbda-target-release}"
seconds="${1:-90}"
filter="${2:-fuzz::}"
VBDA_FUZZ_SECONDS="$seconds" cargo test --release --lib -- "$filter" --nocapture --test-threads 1 2>&1 | grep -oE 'fuzz [a-z_]+: .*|.*panicked.*|.*FAILED.*|test result.*'
