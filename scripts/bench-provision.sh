#!/bin/sh
# Provisioning an SF package to N SF hosts at once over NDN (issue 12), on one machine:
#
#   publisher forwarder P <- relay R <- N SF hosts H1..HN   (UDP over loopback)
#
# `nfwd sf provision` tells every host to pull the package; prints the time it took and the
# bytes P sent (the origin's cost), and how many Data R's content store answered.
#
# Usage: scripts/bench-provision.sh N SIZE_MIB [NFWD]   (NFWD: the binary, default
# target/release/nfwd, else target/debug/nfwd). Needs no root. Leaves nothing behind.
# RELAY_STRATEGY=NAME sets R's strategy for /pkg (e.g. a best-route with another
# retransmission suppression: /localhost/nfd/strategy/best-route/v=5/retx-suppression-initial~1000).
set -eu
N=${1:?nodes}
MIB=${2:?package size in MiB}
NFWD=${3:-}
if [ -z "$NFWD" ]; then
    if [ -x target/release/nfwd ]; then NFWD=target/release/nfwd; else NFWD=target/debug/nfwd; fi
fi
NFWD=$(readlink -f "$NFWD")
DIR=$(mktemp -d /tmp/nfwd-bench-provision.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # tag udp-port extra-args...
    tag=$1; p=$2; shift 2
    NFWD_LOG=warn "$NFWD" start --unix "$DIR/$tag.sock" --udp "127.0.0.1:$p" --tcp "" "$@" \
        >/dev/null 2>"$DIR/$tag.log" &
    PIDS="$PIDS $!"
    tries=0
    until "$NFWD" --connect "unix://$DIR/$tag.sock" status >/dev/null 2>&1; do
        tries=$((tries + 1)); [ $tries -lt 200 ] || { echo "$tag did not start" >&2; exit 1; }
        sleep 0.05
    done
}
cli() { tag=$1; shift; "$NFWD" --connect "unix://$DIR/$tag.sock" "$@" >/dev/null; }

"$NFWD" key generate /pkg/publisher --out "$DIR/keys" >/dev/null
head -c $((MIB * 1024 * 1024)) /dev/urandom >"$DIR/big.bin"
chmod +x "$DIR/big.bin"
cat >"$DIR/host.toml" <<EOF
[sf_packages]
fetch_timeout_s = 600
[[sf_packages.source]]
prefix = "/pkg"
trust_anchor = "$DIR/keys/publisher.cert"
EOF

PP=$(port); RP=$(port)
start p "$PP"
start r "$RP"
cli r face create "udp4://127.0.0.1:$PP"
cli r route add /pkg "udp4://127.0.0.1:$PP"
if [ -n "${RELAY_STRATEGY:-}" ]; then cli r strategy set /pkg "$RELAY_STRATEGY"; fi
NODES=""
for k in $(seq 1 "$N"); do
    start "h$k" "$(port)" --config "$DIR/host.toml" --sf-host --sf-package-cache "$DIR/cache$k"
    cli "h$k" face create "udp4://127.0.0.1:$RP"
    cli "h$k" route add /pkg "udp4://127.0.0.1:$RP"
    NODES="$NODES${NODES:+,}unix://$DIR/h$k.sock"
done
NFWD_LOG=warn "$NFWD" --connect "unix://$DIR/p.sock" sf publish "$DIR/big.bin" --function /sf/big \
    --prefix /pkg --key "$DIR/keys/publisher.key" --version 1 2>"$DIR/publish.log" &
PIDS="$PIDS $!"
until grep -q serving "$DIR/publish.log" 2>/dev/null; do sleep 0.1; done

out_bytes() { # bytes P sent on its UDP faces
    "$NFWD" --connect "unix://$DIR/p.sock" face list --json |
        python3 -c 'import json,sys; print(sum(f["out_bytes"] for f in json.load(sys.stdin) if f["remote_uri"].startswith("udp")))'
}
cs_hits() { "$NFWD" --connect "unix://$DIR/r.sock" cs info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hits"])'; }
B0=$(out_bytes); H0=$(cs_hits)
T0=$(date +%s.%N)
"$NFWD" sf provision /pkg/sf-package/sf/big/v=1 --nodes "$NODES" | tail -1
T1=$(date +%s.%N)
B1=$(out_bytes); H1=$(cs_hits)
python3 - "$N" "$MIB" "$T0" "$T1" "$B0" "$B1" "$H0" "$H1" <<'EOF'
import sys
n, mib, t0, t1, b0, b1, h0, h1 = sys.argv[1:]
sent = int(b1) - int(b0)
size = int(mib) * 1024 * 1024
print(f"nodes {n}, package {mib} MiB: {float(t1) - float(t0):.2f} s; origin sent "
      f"{sent / 1048576:.1f} MiB ({sent / size:.2f} x the package); relay CS hits {int(h1) - int(h0)}")
EOF
