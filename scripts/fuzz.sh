#!/usr/bin/env bash
# Fuzzes one target (or all) for a while without touching the committed seed corpus: libFuzzer
# adds every new input to the corpus directory it is given, so it gets a copy in a temporary
# directory; new findings (crashes) still land in fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh                     list the targets
#   scripts/fuzz.sh TARGET [SECONDS]    fuzz TARGET (default 60 s)
#   scripts/fuzz.sh all [SECONDS]       every target in turn
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`, installed here if missing). It uses
# nightly-only compiler flags (sanitizers); RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them, so no second toolchain is needed.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
  cargo install cargo-fuzz --locked
fi
if [ $# -eq 0 ]; then
  cargo fuzz list
  exit 0
fi

target="$1"
seconds="${2:-60}"
run_one() {
  local t="$1" work rc=0
  work="$(mktemp -d)"
  cp -r "corpus/$t/." "$work/" 2>/dev/null || true
  echo "--- fuzz $t for ${seconds}s (corpus copy in $work)" >&2
  cargo fuzz run -O "$t" "$work" -- -max_total_time="$seconds" -rss_limit_mb=2048 \
    -print_final_stats=1 || rc=$?
  rm -rf "$work"
  return "$rc"
}
if [ "$target" = all ]; then
  for t in $(cargo fuzz list); do run_one "$t"; done
else
  run_one "$target"
fi
