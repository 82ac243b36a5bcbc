#!/usr/bin/env bash
# The README's test command. Sets up what the tests need on this machine, runs every test of
# the workspace, and says plainly at the end which tests could not run and why — a test that
# did nothing never counts as a pass: if any was skipped, this exits non-zero (3), unless
# NFWD_ALLOW_SKIPS=1 says that is accepted.
#
#   scripts/test.sh [cargo test arguments...]      e.g. scripts/test.sh -p nfwd-tlv
#
# What it sets up (each step only if missing):
#   - python-ndn 0.5.2, the real NDN peer of the interop tests: installed with pip where
#     that is allowed, else into a virtual environment under target/python-ndn (on Debian this
#     needs the python3-venv package, installed with apt-get when running as root);
#   - as root: iproute2 and nftables (namespaces, veth pairs, link shaping), chromium (the
#     status page's browser test) and the NDN
#     reference tools of ../shared/anchors (NFD, nfdc, ndn-tools) into target/ndn-anchors.
# What it cannot set up, it names: root (network namespaces, a second uid) and a Docker
# engine. Under CI=true every test must run: the tests themselves fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '%s\n' "$*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  is_root || return 1
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

missing=()

# --- python-ndn -----------------------------------------------------------------------------
venv="$PWD/target/python-ndn"
if python3 -c 'import ndn' 2>/dev/null; then
  :
elif [ -x "$venv/bin/python3" ] && "$venv/bin/python3" -c 'import ndn' 2>/dev/null; then
  export PATH="$venv/bin:$PATH"
elif python3 -m pip install --quiet --disable-pip-version-check 'python-ndn==0.5.2' 2>/dev/null \
  && python3 -c 'import ndn' 2>/dev/null; then
  say "installed python-ndn 0.5.2 with pip"
else
  # Debian's system Python refuses pip installs (PEP 668): a virtual environment of our own.
  python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null \
    || apt_install python3-venv || true
  if python3 -m venv "$venv" >/dev/null 2>&1 \
    && "$venv/bin/pip" install --quiet --disable-pip-version-check 'python-ndn==0.5.2'; then
    export PATH="$venv/bin:$PATH"
    say "installed python-ndn 0.5.2 into $venv"
  else
    missing+=("python-ndn (pip install python-ndn, or apt-get install python3-venv and rerun)")
  fi
fi

# --- root-only tools ------------------------------------------------------------------------
if is_root; then
  command -v ip >/dev/null 2>&1 || apt_install iproute2 || missing+=("iproute2 (ip)")
  command -v nft >/dev/null 2>&1 || apt_install nftables || missing+=("nftables (nft)")
  command -v chromium >/dev/null 2>&1 || apt_install chromium || missing+=("chromium (the status page's test)")
  if [ -z "${NFWD_NDN_TOOLS:-}" ] && [ ! -x target/ndn-anchors/bin/nfdc ]; then
    if [ -f ../shared/anchors/install.sh ]; then
      say "installing the NDN reference tools into target/ndn-anchors"
      bash ../shared/anchors/install.sh "$PWD/target/ndn-anchors" >/dev/null \
        || missing+=("the NDN reference tools (../shared/anchors/install.sh failed)")
    else
      missing+=("the NDN reference tools (no ../shared/anchors/install.sh)")
    fi
  fi
else
  missing+=("root (network namespaces, veth pairs, a second uid, the NDN tools' apt packages)")
fi
if ! docker info >/dev/null 2>&1; then
  missing+=("a Docker engine answering on the local socket")
fi

if [ "${#missing[@]}" -gt 0 ]; then
  say "not available here, so the tests needing them will say SKIPPED (under CI=true: fail):"
  for m in "${missing[@]}"; do say "  - $m"; done
fi

# --- the static nfwd of the Docker tests ----------------------------------------------------
# Their images hold a statically linked nfwd; built here, where cargo's progress shows,
# instead of silently inside a test (minutes the first time; the tests then find it built).
if docker info >/dev/null 2>&1; then
  say "building the static nfwd the Docker tests put in their images (target/static-sf)"
  scripts/build-static-nfwd.sh >/dev/null || say "the static build failed: the Docker tests will say why"
fi

# --- the tests ------------------------------------------------------------------------------
# Every test that cannot run appends "test: why" here (tests/common, forwarder and sf-host
# tests), so the summary below sees what the test harness hides from passing tests' output.
export NFWD_SKIPPED_LOG="$PWD/target/skipped-tests.log"
mkdir -p target
: >"$NFWD_SKIPPED_LOG"
status=0
cargo test --workspace "$@" || status=$?

say ""
if [ "$status" -ne 0 ]; then
  say "tests FAILED (cargo test exited $status)"
fi
if [ -s "$NFWD_SKIPPED_LOG" ]; then
  n=$(sort -u "$NFWD_SKIPPED_LOG" | wc -l)
  say "$n test(s) did NOT run (they returned without testing anything):"
  sort -u "$NFWD_SKIPPED_LOG" | sed 's/^/  SKIPPED /' >&2
  if [ "$status" -eq 0 ] && [ "${NFWD_ALLOW_SKIPS:-0}" != 1 ]; then
    say "failing because of them (NFWD_ALLOW_SKIPS=1 accepts skips)"
    status=3
  fi
elif [ "$status" -eq 0 ]; then
  say "all tests ran: none was skipped"
fi
exit "$status"
