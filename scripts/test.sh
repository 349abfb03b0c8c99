#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need, then runs them.
# Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: mold (fast linker). Optional: the build works without it, only slower.
if ! command -v mold >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "== installing mold" >&2
  (apt-get update -qq && apt-get install -y -qq mold >/dev/null) || echo "mold not installed; linking with the default linker" >&2
fi
source scripts/env.sh

start=$(date +%s)
echo "== cargo build --tests (target: $CARGO_TARGET_DIR)" >&2
cargo build --locked --tests
echo "== built in $(( $(date +%s) - start ))s" >&2
cargo test --locked "$@"
echo "== test suite finished in $(( $(date +%s) - start ))s" >&2
