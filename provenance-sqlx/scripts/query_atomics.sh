#!/usr/bin/env bash
# Instructions and atomic read-modify-writes (`lock`-prefixed instructions and `xchg` with
# memory) that the sqlx pool's recording adds to a query, counted by callgrind: what
# `benches/recording.rs` times, with no query run (`profile_queries recorded` against
# `profile_queries bare`), so no driver thread is in the count and both numbers are the same
# run after run.
#
# Why atomics: an uncontended one costs about as much as 20-30 plain instructions here (a
# `fetch_add` in a loop: 8.5 ns), and the recording's time goes mostly to them: reference
# counts (an `ArtifactId` or `Arc` cloned and dropped), locks taken and released, shared
# counters. Each is also a cache line that other threads running queries may share.
#
# Per query in the steady state: each case runs N and then 2N recordings, and the difference
# is divided by N (the first thousands fill the store, its queue and the recorder's tables).
#
# Usage: bash provenance-sqlx/scripts/query_atomics.sh   (valgrind, objdump and python3 needed)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p provenance-sqlx --example profile_queries
bin=target/release/examples/profile_queries
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Instructions and atomics in a callgrind output made with `--dump-instr=yes`.
count() {
    python3 - "$1" <<'PY'
import re, subprocess, sys
locked, obs, names = {}, {}, {}
def atomics_of(path):
    if path not in locked:
        out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path],
                             capture_output=True, text=True).stdout
        found = set()
        for line in out.splitlines():
            m = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", line)
            if m and (m.group(2) == "lock" or (m.group(2).startswith("xchg") and "(" in m.group(3))):
                found.add(int(m.group(1), 16))
        locked[path] = found
    return locked[path]
ir = atomics = 0
ob, here, after_call = None, 0, False
for line in open(sys.argv[1]):
    m = re.match(r"(c?)ob=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(3): obs[m.group(2)] = m.group(3).strip()
        if not m.group(1): ob = atomics_of(obs[m.group(2)])
        continue
    if line.startswith("calls="):
        after_call = True
        continue
    m = re.match(r"(0x[0-9a-f]+|[+-]\d+|\*)\s+(\d+)", line)
    if not m:
        continue
    p = m.group(1)
    here = int(p, 16) if p.startswith("0x") else here + int(p) if p[0] in "+-" else here
    if after_call:
        # The inclusive cost of a call, counted in the callee already.
        after_call = False
        continue
    ir += int(m.group(2))
    if ob is not None and here in ob:
        atomics += int(m.group(2))
print(ir, atomics)
PY
}
run() { # mode rows n -> "instructions atomics"
    valgrind --tool=callgrind --dump-instr=yes --dump-line=no \
        --callgrind-out-file="$dir/out" "$bin" "$1" "$2" "$3" >/dev/null 2>&1
    count "$dir/out"
}
printf '%-10s %8s %28s %26s\n' "rows" "N" "instructions added a query" "atomics added a query"
for args in "0 10000" "1 10000" "100 1000"; do
    read -r rows n <<<"$args"
    read -r ri1 ra1 < <(run recorded "$rows" "$n")
    read -r ri2 ra2 < <(run recorded "$rows" $((2 * n)))
    read -r bi1 ba1 < <(run bare "$rows" "$n")
    read -r bi2 ba2 < <(run bare "$rows" $((2 * n)))
    python3 -c "
n = $n
print(f'{$rows:<10} {n:>8} {(($ri2 - $ri1) - ($bi2 - $bi1)) / n:>28.0f} {(($ra2 - $ra1) - ($ba2 - $ba1)) / n:>26.1f}')"
done
