#!/bin/sh
# Provisioning an SF package to N SF hosts at once over NDN, side by side with N clients
# downloading it from one central HTTP server (issue 12), on one machine:
#
#   star (default):  publisher forwarder P <- relay R <- N SF hosts H1..HN
#   tree (--fanout K): P <- root relay R <- K edge relays E1..EK <- N SF hosts, host k behind
#                    edge ((k-1) mod K)+1 (in-network caching at two levels)
#
# all UDP over loopback. `nfwd sf provision` tells every host to pull the package; the script
# prints the time it took, the bytes P sent (the origin's cost) and the relays' content store
# hits. Then (unless --no-http) the baseline: scripts/bench-http-origin.py serves the same
# file over HTTP on loopback (a threaded server: every client is served at once; sendfile),
# N clients (scripts/bench-http-fetch.py: one process, a thread each, all waiting before the
# clock starts) fetch it at once, each into its own file whose SHA-256 it checks (as a gateway
# verifying its download); it prints the time until all N are done and the bytes the server
# sent (bodies and headers, counted by the server).
#
# Usage: scripts/bench-provision.sh [--fanout K] [--strategy S] [--no-http] N SIZE [NFWD]
#   SIZE      the package: 100K (KiB), 20M (MiB), or a bare number of MiB
#   NFWD      the binary, default target/release/nfwd, else target/debug/nfwd
#   --fanout K  the tree with K edge relays (0: the star, the default)
#   --strategy S  the relays' strategy for /pkg: `default` (the forwarder's best-route),
#             `suppress` (best-route/v=5 with retransmission suppression 1000..2000 ms; see
#             docs/benchmarks.md), or a full strategy name. Default: $RELAY_STRATEGY, else
#             `default`.
#   --no-http   skip the HTTP baseline
#   --liveness-timeout MS  every forwarder's faces.liveness_timeout_ms (default: the
#             forwarder's, 1000; 0 turns liveness off). On a machine this loaded, a relay
#             starved of CPU for 1 s is declared down by the forwarders below it.
# Needs no root; python3 and curl. Leaves nothing behind. The last line is a Markdown table
# row: topology, nodes, size, NDN time and origin bytes, HTTP time and origin bytes, CS hits,
# load average (1 min) before and after.
set -eu
usage() { sed -n '2,/^set -eu/p' "$0" | sed -e '/^set -eu/d' -e 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }
FANOUT=0
HTTP=1
STRATEGY=${RELAY_STRATEGY:-default}
LIVENESS=""
while [ $# -gt 0 ]; do
    case $1 in
        --fanout) FANOUT=${2:?--fanout K}; shift 2 ;;
        --strategy) STRATEGY=${2:?--strategy S}; shift 2 ;;
        --no-http) HTTP=0; shift ;;
        --liveness-timeout) LIVENESS=${2:?--liveness-timeout MS}; shift 2 ;;
        -h | --help) usage 0 ;;
        --) shift; break ;;
        -*) echo "unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[ $# -ge 2 ] || usage
N=$1
SIZE=$2
NFWD=${3:-}
case $N$FANOUT$LIVENESS in '' | *[!0-9]*) echo "N, K and MS must be numbers" >&2; usage ;; esac
[ "$N" -ge 1 ] || { echo "N must be at least 1" >&2; exit 2; }
case $SIZE in
    *[Kk] | *[Kk]i[Bb]) NUM=${SIZE%%[Kk]*}; UNIT=1024; LABEL="$NUM KiB" ;;
    *[Mm] | *[Mm]i[Bb]) NUM=${SIZE%%[Mm]*}; UNIT=1048576; LABEL="$NUM MiB" ;;
    *) NUM=$SIZE; UNIT=1048576; LABEL="$NUM MiB" ;;
esac
case $NUM in '' | *[!0-9]*) echo "SIZE: 100K, 20M or a number of MiB" >&2; usage ;; esac
BYTES=$((NUM * UNIT))
[ "$BYTES" -ge 1 ] || { echo "SIZE must be at least 1 byte" >&2; exit 2; }
case $STRATEGY in
    default) STRATEGY_NAME="" ;;
    suppress) STRATEGY_NAME=/localhost/nfd/strategy/best-route/v=5/retx-suppression-initial~1000/retx-suppression-max~2000 ;;
    *) STRATEGY_NAME=$STRATEGY ;;
esac
if [ -z "$NFWD" ]; then
    if [ -x target/release/nfwd ]; then NFWD=target/release/nfwd; else NFWD=target/debug/nfwd; fi
fi
NFWD=$(readlink -f "$NFWD")
HERE=$(dirname "$(readlink -f "$0")")
DIR=$(mktemp -d /tmp/nfwd-bench-provision.XXXXXX)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
now() { date +%s.%N; }
load1() { cut -d' ' -f1 /proc/loadavg; }
port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # tag udp-port extra-args...
    tag=$1; p=$2; shift 2
    NFWD_LOG=warn "$NFWD" start --unix "$DIR/$tag.sock" --udp "127.0.0.1:$p" --tcp "" "$@" \
        >/dev/null 2>"$DIR/$tag.log" &
    PIDS="$PIDS $!"
    tries=0
    until "$NFWD" --connect "unix://$DIR/$tag.sock" status >/dev/null 2>&1; do
        tries=$((tries + 1)); [ $tries -lt 200 ] || { echo "$tag did not start" >&2; cat "$DIR/$tag.log" >&2; exit 1; }
        sleep 0.05
    done
}
cli() { tag=$1; shift; "$NFWD" --connect "unix://$DIR/$tag.sock" "$@" >/dev/null; }
relay() { # tag udp-port upstream-udp-port: a relay routing /pkg upstream
    start "$1" "$2" --config "$DIR/relay.toml"
    cli "$1" face create "udp4://127.0.0.1:$3"
    cli "$1" route add /pkg "udp4://127.0.0.1:$3"
    if [ -n "$STRATEGY_NAME" ]; then cli "$1" strategy set /pkg "$STRATEGY_NAME"; fi
}

"$NFWD" key generate /pkg/publisher --out "$DIR/keys" >/dev/null
mkdir "$DIR/www" "$DIR/http"
head -c "$BYTES" /dev/urandom >"$DIR/www/pkg.bin"
chmod +x "$DIR/www/pkg.bin"
SHA=$(sha256sum <"$DIR/www/pkg.bin" | cut -c1-64)
FACES=""
[ -z "$LIVENESS" ] || FACES="[faces]
liveness_timeout_ms = $LIVENESS"
printf '%s\n' "$FACES" >"$DIR/relay.toml"
cat >"$DIR/host.toml" <<EOF
$FACES
[sf_packages]
fetch_timeout_s = 600
[[sf_packages.source]]
prefix = "/pkg"
trust_anchor = "$DIR/keys/publisher.cert"
EOF

# The NDN testbed.
PP=$(port); RP=$(port)
start p "$PP" --config "$DIR/relay.toml"
relay r "$RP" "$PP"
RELAYS=r
EDGE_PORTS=""
k=1
while [ "$k" -le "$FANOUT" ]; do
    ep=$(port)
    relay "e$k" "$ep" "$RP"
    RELAYS="$RELAYS e$k"
    EDGE_PORTS="$EDGE_PORTS $ep"
    k=$((k + 1))
done
NODES=""
k=1
while [ "$k" -le "$N" ]; do
    if [ "$FANOUT" -eq 0 ]; then
        up=$RP
    else
        # shellcheck disable=SC2086 # split on purpose
        set -- $EDGE_PORTS
        shift $(((k - 1) % FANOUT))
        up=$1
    fi
    start "h$k" "$(port)" --config "$DIR/host.toml" --sf-host --sf-package-cache "$DIR/cache$k"
    cli "h$k" face create "udp4://127.0.0.1:$up"
    cli "h$k" route add /pkg "udp4://127.0.0.1:$up"
    NODES="$NODES${NODES:+,}unix://$DIR/h$k.sock"
    k=$((k + 1))
done
NFWD_LOG=warn "$NFWD" --connect "unix://$DIR/p.sock" sf publish "$DIR/www/pkg.bin" --function /sf/big \
    --prefix /pkg --key "$DIR/keys/publisher.key" --version 1 2>"$DIR/publish.log" &
PIDS="$PIDS $!"
until grep -q serving "$DIR/publish.log" 2>/dev/null; do sleep 0.1; done

out_bytes() { # bytes P sent on its UDP faces
    "$NFWD" --connect "unix://$DIR/p.sock" face list --json |
        python3 -c 'import json,sys; print(sum(f["out_bytes"] for f in json.load(sys.stdin) if f["remote_uri"].startswith("udp")))'
}
cs_hits() { # relay: its content store's hits
    "$NFWD" --connect "unix://$DIR/$1.sock" cs info --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hits"])'
}
all_hits() { # R's hits and the edges' sum
    r=$(cs_hits r); e=0
    for t in $RELAYS; do [ "$t" = r ] || e=$((e + $(cs_hits "$t"))); done
    echo "$r $e"
}
installed() { # how many hosts have the package in their cache
    find "$DIR" -path "$DIR/cache*/*/package.json" ! -path '*/.staging/*' | wc -l
}

# NDN: provision all N.
TOPO="star"; [ "$FANOUT" -eq 0 ] || TOPO="tree, $FANOUT edges"
L0=$(load1)
B0=$(out_bytes)
# shellcheck disable=SC2046 # two words on purpose
set -- $(all_hits); RH0=$1; EH0=$2
T0=$(now)
PRC=0
"$NFWD" sf provision /pkg/sf-package/sf/big/v=1 --nodes "$NODES" >"$DIR/provision.out" 2>&1 || PRC=$?
T1=$(now)
NOTE=""
if [ "$PRC" -ne 0 ]; then
    # A node whose pull outlives the pull command's lifetime (30 s) is reported failed while
    # its pull may go on: wait for the caches while pulls are under way (a staging directory),
    # up to the hosts' fetch_timeout_s.
    grep -v ': pulled \|: already had ' "$DIR/provision.out" | head -5 >&2
    FAILED=$(grep -c -v ': pulled \|: already had \|^provisioned \|^Error' "$DIR/provision.out" || true)
    while [ "$(installed)" -lt "$N" ] && [ "$(python3 -c "print(int($(now) - $T0))")" -lt 600 ] &&
        [ -n "$(find "$DIR" -path "$DIR/cache*/.staging/*" -prune -print | head -1)" ]; do
        sleep 0.2
    done
    T1=$(now)
    NOTE=" ($FAILED provision replies failed; $(installed) of $N caches hold the package after waiting for them)"
fi
tail -1 "$DIR/provision.out"
B1=$(out_bytes)
# shellcheck disable=SC2046
set -- $(all_hits); RH1=$1; EH1=$2
DONE=$(installed)

# HTTP: N clients at once from one server.
HS=0; HB=0; HOK=0
if [ "$HTTP" = 1 ]; then
    python3 "$HERE/bench-http-origin.py" "$DIR/www" "$DIR/http.port" 2>"$DIR/http.log" &
    PIDS="$PIDS $!"
    tries=0
    until [ -s "$DIR/http.port" ]; do
        tries=$((tries + 1)); [ $tries -lt 200 ] || { echo "the HTTP server did not start" >&2; cat "$DIR/http.log" >&2; exit 1; }
        sleep 0.05
    done
    URL="http://127.0.0.1:$(cat "$DIR/http.port")"
    # shellcheck disable=SC2046 # three words on purpose
    set -- $(python3 "$HERE/bench-http-fetch.py" "$URL/pkg.bin" "$N" "$DIR/http" "$SHA")
    HS=$1; HOK=$2
    HB=$(curl -sS "$URL/stats")
    rm -f "$DIR"/http/*.bin
fi
L1=$(load1)

python3 - "$N" "$BYTES" "$LABEL" "$TOPO" "$STRATEGY" "$T0" "$T1" "$B0" "$B1" "$RH0" "$RH1" "$EH0" "$EH1" \
    "$DONE" "$NOTE" "$HTTP" "$HS" "$HB" "$HOK" "$L0" "$L1" <<'EOF'
import sys
(n, size, label, topo, strategy, t0, t1, b0, b1, rh0, rh1, eh0, eh1, done, note, http, hs, hb,
 hok, l0, l1) = sys.argv[1:]
n, size = int(n), int(size)
sent = int(b1) - int(b0)
t = float(t1) - float(t0)
hits = f"R {int(rh1) - int(rh0)}" + ("" if topo == "star" else f", edges {int(eh1) - int(eh0)}")
print(f"NDN  ({topo}, strategy {strategy}): {n} nodes, package {label}: {t:.2f} s, {done} of {n} "
      f"hold it{note}; origin sent {sent / 1048576:.2f} MiB ({sent / size:.2f} x the package); "
      f"CS hits {hits}")
row_http = "-"
if http == "1":
    hb = int(hb)
    print(f"HTTP (one server, {n} clients at once): {float(hs):.2f} s, {hok} of {n} verified; origin sent "
          f"{hb / 1048576:.2f} MiB ({hb / size:.2f} x the package)")
    row_http = f"{float(hs):.2f} s, {hb / size:.2f} ×"
print(f"load average (1 min) {l0} before, {l1} after")
print(f"| {topo} | {n} | {label} | {t:.2f} s, {sent / size:.2f} × | {row_http} | {hits} | {l0}–{l1} |")
EOF
