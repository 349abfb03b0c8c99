# Shared build settings for the scripts (sourced, not run).
# The target folder lives outside the clone so CI and later runs reuse compiled dependencies
# (BUILD.md); the mold linker is used when present, consistently, so the cache stays valid.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vbda-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
if command -v mold >/dev/null 2>&1 && [ -z "${RUSTFLAGS:-}" ]; then
  export RUSTFLAGS="-C link-arg=-fuse-ld=mold"
fi
