#!/usr/bin/env bash
# Instructions per packet of Forwarder::receive, path by path, counted by callgrind, compared
# with the committed baseline (benches/instructions-baseline.toml). Instruction counts do not
# depend on the machine's load, so CI can catch a regression that timings on a shared machine
# would hide in their noise (docs/benchmarks.md, "Instruction counts").
#
#   scripts/instructions.sh            measure, compare, fail (exit 1) on a regression
#   scripts/instructions.sh --update   measure and rewrite the baseline
#
# Environment: INSTRUCTIONS_PACKETS (measured packets per path, default 4096),
# INSTRUCTIONS_TOLERANCE (percent a path may grow before it fails, default 10).
# Needs valgrind (Debian: apt-get install valgrind); installs nothing itself. Leaves one
# callgrind output per path in target/instructions/ for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."

baseline=benches/instructions-baseline.toml
packets="${INSTRUCTIONS_PACKETS:-4096}"
tolerance="${INSTRUCTIONS_TOLERANCE:-10}"
update=0
case "${1:-}" in
  "") ;;
  --update) update=1 ;;
  *) echo "usage: $0 [--update]" >&2; exit 2 ;;
esac

if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind is not installed (Debian/Ubuntu: apt-get install valgrind); nothing measured" >&2
  exit 2
fi

echo "building the instruction counter (release)" >&2
# Selected together with the nfwd binary, so dependencies get the features of the release
# build (`cargo build --release`, CI's main job): nothing is rebuilt, and the counts are of
# the code that ships.
cargo build --release --locked -p nfwd -p nfwd-benches --bin receive_instructions >&2
target="${CARGO_TARGET_DIR:-target}"
bin="$target/release/receive_instructions"
outdir="$target/instructions"
mkdir -p "$outdir"

declare -A now
paths=()
for path in $("$bin" --list); do
  paths+=("$path")
  out="$outdir/$path.callgrind.out"
  # Count only inside callgrind_measured_receives: the receive calls of the measured packets.
  if ! valgrind --tool=callgrind --collect-atstart=no \
    --toggle-collect='*callgrind_measured_receives*' \
    --callgrind-out-file="$out" "$bin" "$path" "$packets" >"$outdir/$path.log" 2>&1; then
    echo "$path: the counting run failed:" >&2
    tail -n 20 "$outdir/$path.log" >&2
    exit 2
  fi
  total=$(awk '/^(totals|summary):/ {print $2; exit}' "$out")
  if [ -z "$total" ] || [ "$total" -eq 0 ]; then
    echo "$path: callgrind counted nothing in $out (was callgrind_measured_receives inlined or renamed?)" >&2
    exit 2
  fi
  now[$path]=$(( (total + packets / 2) / packets ))
done

if [ "$update" = 1 ]; then
  {
    echo "# Instructions per packet of Forwarder::receive, by path (scripts/instructions.sh)."
    echo "# Measured $(date -u +%Y-%m-%d) with $(rustc --version | cut -d' ' -f1-2), $(valgrind --version),"
    echo "# $packets packets per path after warm-up. Regenerate with: scripts/instructions.sh --update"
    for path in "${paths[@]}"; do
      echo "$path = ${now[$path]}"
    done
  } >"$baseline"
  echo "baseline written to $baseline:" >&2
  grep -v '^#' "$baseline"
  exit 0
fi

if [ ! -f "$baseline" ]; then
  echo "no baseline ($baseline): create it with $0 --update" >&2
  exit 2
fi

status=0
printf '%-22s %12s %12s %9s\n' path instr/packet baseline change
for path in "${paths[@]}"; do
  base=$(awk -F' *= *' -v p="$path" '$1 == p {print $2; exit}' "$baseline")
  if [ -z "$base" ]; then
    printf '%-22s %12s %12s %9s\n' "$path" "${now[$path]}" "-" "NEW"
    status=1
    continue
  fi
  # Change in tenths of a percent, integer arithmetic only.
  change=$(( (now[$path] - base) * 1000 / base ))
  verdict=""
  if [ $(( now[$path] * 100 )) -gt $(( base * (100 + tolerance) )) ]; then
    verdict="  REGRESSION (> ${tolerance}%)"
    status=1
  elif [ $(( now[$path] * 100 )) -lt $(( base * (100 - tolerance) )) ]; then
    verdict="  improved (> ${tolerance}%): consider updating the baseline"
  fi
  sign="+"; abs=$change
  if [ "${now[$path]}" -lt "$base" ]; then sign="-"; abs=$(( -change )); fi
  printf '%-22s %12s %12s %8s%%%s\n' "$path" "${now[$path]}" "$base" \
    "$sign$((abs / 10)).$((abs % 10))" "$verdict"
done

if [ "$status" -ne 0 ]; then
  cat >&2 <<MSG

Instructions per packet grew by more than ${tolerance}% on a path above (or a path has no
baseline). Find what grew with callgrind_annotate on $outdir/<path>.callgrind.out.
If the increase is intended (a feature that must cost instructions), update the baseline and
commit it with the change, saying why in the commit message:
    scripts/instructions.sh --update && git add $baseline
MSG
fi
exit "$status"
