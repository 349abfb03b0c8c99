# The system packages the build itself needs, installed before anything is compiled (sourced
# by quickstart.sh and test.sh, so both build with the same linker and flags and share one
# compiled dependency tree under $CARGO_TARGET_DIR): mold (fast linker; optional, the build
# works without it, only slower) and libssl-dev + pkg-config for librdkafka's TLS.
# Installs only as root with apt-get; otherwise it builds with what is there.
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=()
  command -v mold >/dev/null 2>&1 || missing+=(mold)
  [ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]}" >&2
    (apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null) \
      || echo "could not install ${missing[*]}; building with what is installed" >&2
  fi
fi
