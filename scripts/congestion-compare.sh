#!/usr/bin/env bash
# Goodput, retransmissions and congestion marks of ndncatchunks (AIMD and CUBIC) fetching one
# file from ndnputchunks on the same forwarder's Unix socket: nfwd, then NFD, in one run.
#
#   scripts/congestion-compare.sh [SIZE_MIB]        (default 20)
#
# NFWD      the nfwd binary (default: target/release/nfwd, else target/debug/nfwd)
# TOOLS     the NDN reference tools (default: $NFWD_NDN_TOOLS, else target/ndn-anchors;
#           `bash ../shared/anchors/install.sh target/ndn-anchors` installs them)
#
# Both forwarders listen on a Unix socket in a temporary directory only (no TCP, UDP or
# Ethernet), so the script runs beside anything bound to port 6363. Not for CI: figures
# depend on the machine.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
size_mib=${1:-20}
nfwd=${NFWD:-}
if [[ -z $nfwd ]]; then
    if [[ -x $root/target/release/nfwd ]]; then nfwd=$root/target/release/nfwd
    else nfwd=$root/target/debug/nfwd; fi
fi
tools=${TOOLS:-${NFWD_NDN_TOOLS:-$root/target/ndn-anchors}}
[[ -x $nfwd ]] || { echo "no nfwd binary at $nfwd (cargo build --release)" >&2; exit 1; }
[[ -x $tools/bin/nfd ]] || { echo "no NDN tools in $tools" >&2; exit 1; }

dir=$(mktemp -d /tmp/nfwd-congestion-compare.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

export HOME=$dir/home LD_LIBRARY_PATH=$tools/lib
mkdir -p "$HOME"
"$tools/bin/ndnsec" key-gen /localhost/operator >/dev/null
head -c $((size_mib << 20)) /dev/urandom >"$dir/file"

cat >"$dir/nfwd.toml" <<EOF
[faces]
unix_path = "$dir/nfwd.sock"
tcp_listen = ""
udp_listen = ""
EOF
# NFD's sample configuration with its Unix socket moved and every other listener off.
sed -e "s|path /run/nfd/nfd.sock|path $dir/nfd.sock|" -e 's|^\(\s*\)listen yes|\1listen no|' \
    -e 's|^\(\s*\)mcast yes|\1mcast no|' -e 's|default_level INFO|default_level WARN|' \
    "$tools/etc/nfd.conf.sample" >"$dir/nfd.conf"

wait_socket() {
    for _ in $(seq 100); do [[ -S $1 ]] && return 0; sleep 0.1; done
    echo "no socket $1" >&2; exit 1
}

NFWD_LOG=warn "$nfwd" start --config "$dir/nfwd.toml" >"$dir/nfwd.log" 2>&1 &
pids+=($!)
"$tools/bin/nfd" --config "$dir/nfd.conf" >"$dir/nfd.log" 2>&1 &
pids+=($!)
wait_socket "$dir/nfwd.sock"
wait_socket "$dir/nfd.sock"

# One fetch: publish under a fresh prefix (no cache hits), fetch, compare, summarise.
fetch() {
    local fwd=$1 pipeline=$2 prefix=/compare/$1/$2
    export NDN_CLIENT_TRANSPORT=unix://$dir/$fwd.sock
    "$tools/bin/ndnputchunks" "$prefix" <"$dir/file" >/dev/null 2>&1 &
    local put=$!
    pids+=($put)
    for _ in $(seq 300); do
        "$tools/bin/nfdc" route list 2>/dev/null | grep -q "prefix=$prefix " && break
        sleep 0.2
    done
    # Bounded: a fetch that stalls is reported as such, the script goes on.
    timeout 120 "$tools/bin/ndncatchunks" -v -p "$pipeline" "$prefix" >"$dir/out" 2>"$dir/err" ||
        true
    kill "$put" 2>/dev/null || true
    local same=no
    cmp -s "$dir/out" "$dir/file" && same=yes
    local goodput retx marks timeouts elapsed
    goodput=$(sed -n 's/^Goodput: \([0-9.]*\) \(.*\)/\1 \2/p' "$dir/err")
    retx=$(sed -n 's/^Retransmitted segments: \([0-9]*\) (\([^)]*\)).*/\1 (\2)/p' "$dir/err")
    marks=$(sed -n 's/^Congestion marks: \([0-9]*\).*/\1/p' "$dir/err")
    timeouts=$(sed -n 's/^Timeouts: \([0-9]*\).*/\1/p' "$dir/err")
    elapsed=$(sed -n 's/^Time elapsed: \([0-9.]*\).*/\1 s/p' "$dir/err")
    printf '%-9s %-8s %-9s %-22s %-10s %-14s %-8s %s\n' "$fwd" "$pipeline" "$same" \
        "${goodput:-?}" "${elapsed:-?}" "${retx:-?}" "${timeouts:-?}" "${marks:-?}"
}

echo "$size_mib MiB, ndncatchunks -v on the forwarder's Unix socket; nfwd: $nfwd"
printf '%-9s %-8s %-9s %-22s %-10s %-14s %-8s %s\n' forwarder pipeline identical goodput \
    elapsed retransmitted timeouts marks
for fwd in nfwd nfd; do
    for pipeline in aimd cubic; do
        fetch "$fwd" "$pipeline"
    done
done
