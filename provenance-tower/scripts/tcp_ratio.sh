#!/usr/bin/env bash
# Throughput over real TCP on 127.0.0.1, with and without ProvenanceLayer (issue 3's budget:
# with the layer >= 97% of without), read the way this noisy 2-core machine allows: both
# servers run side by side, `wrk` loads them in turns (the order flips every round), each
# round gives one ratio, and the median is reported with its spread.
#
#   bash provenance-tower/scripts/tcp_ratio.sh [rounds] [seconds per run] [other mode]
#
# `other mode` is `layer` (default), `pair` (tower-http's request-id pair), `identity` (a
# layer that does nothing, through `Router::layer`), `mapped` (`axum::middleware::map_response`
# doing nothing) or `header` (the same, adding a fixed 36-byte `x-request-id`). `WORKERS=1`
# serves on one thread. Ports 3101 and 3102 must be free. Needs `wrk` (`apt-get install wrk`).
set -euo pipefail
rounds=${1:-21}
secs=${2:-2}
other=${3:-layer}
cd "$(dirname "$0")/../.."
for port in 3101 3102; do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
        echo "port $port already answers: stop what runs there first" >&2
        exit 1
    fi
done
cargo build --release -q -p provenance-tower --example hello_server
bin=${CARGO_TARGET_DIR:-target}/release/examples/hello_server
"$bin" bare 3101 >/dev/null 2>&1 &
bare_pid=$!
"$bin" "$other" 3102 >/dev/null 2>&1 &
other_pid=$!
trap 'kill -INT $bare_pid $other_pid 2>/dev/null || true' EXIT
# Each server must be ours and up within 10 s.
for server in "3101 $bare_pid" "3102 $other_pid"; do
    read -r port pid <<<"$server"
    for ((tries = 0; ; tries++)); do
        curl -fs -o /dev/null "http://127.0.0.1:$port/" && break
        if ! kill -0 "$pid" 2>/dev/null || ((tries >= 100)); then
            echo "the server for port $port did not start (run $bin $other $port to see why)" >&2
            exit 1
        fi
        sleep 0.1
    done
done
rps() { wrk -t1 -c16 -d"${secs}s" "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'; }
# Warm up both.
rps 3101 >/dev/null
rps 3102 >/dev/null
ratios=()
bares=()
others=()
for ((i = 0; i < rounds; i++)); do
    if ((i % 2 == 0)); then
        b=$(rps 3101)
        o=$(rps 3102)
    else
        o=$(rps 3102)
        b=$(rps 3101)
    fi
    bares+=("$b")
    others+=("$o")
    ratios+=("$(awk -v o="$o" -v b="$b" 'BEGIN {printf "%.4f", o / b}')")
done
pick() { # sorted values, then the one at fraction $1
    local p=$1
    shift
    printf '%s\n' "$@" | sort -g | awk -v p="$p" '{v[NR] = $1} END {i = int((NR - 1) * p + 0.5) + 1; print v[i]}'
}
echo "bare: median $(pick 0.5 "${bares[@]}") requests/s; $other: median $(pick 0.5 "${others[@]}") requests/s"
echo "$other/bare per round: median $(pick 0.5 "${ratios[@]}") (10th-90th percentile $(pick 0.1 "${ratios[@]}")-$(pick 0.9 "${ratios[@]}"); $rounds rounds of ${secs} s each side)"
