# Shared build settings for the scripts (sourced, not run).
# The target folder lives outside the clone so CI and later runs reuse compiled dependencies
# (BUILD.md); the mold linker is used when present, consistently, so the cache stays valid.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/vbda-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
if command -v mold >/dev/null 2>&1 && [ -z "${RUSTFLAGS:-}" ]; then
  export RUSTFLAGS="-C link-arg=-fuse-ld=mold"
fi

# A free TCP port on 127.0.0.1 (for brokers and servers the benchmarks start).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
