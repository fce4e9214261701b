#!/usr/bin/env bash
# Instructions the sqlx pool's recording takes, per query, counted by callgrind: the
# inclusive cost of every call made into the recording from outside it. That means the
# observation made when a query is issued (`observe`: the span lookup and the SQL cache
# included), every row it notes, its end (the store calls that queue its edges included) and
# its drop. Unlike a total of `ours` minus `raw`, which moves by thousands a query with the
# sqlx-sqlite worker's thread hand-off, this count is the same run after run. Not in it: the
# copies of the larger boxed future, and what the driver does either way.
#
# (Not `--toggle-collect` on those functions: it flips collection at every matching function,
# so a recording function that calls another one out of line turns counting off inside it.
# Which ones are out of line is up to the compiler: an inlining change hid whole store calls.)
#
# Per query in the steady state: each case runs N and then 2N queries, and the difference is
# divided by N. The first thousands of queries of a run fill the store, its queue and the
# recorder's tables (allocating their entries); a long-running service is past that.
#
# The second number is what the read at the end pays to link what the queries queued
# (`Store::catch_up`), in all: the queue holds at most the store's event capacity (5 000
# batches here), so divide by that, not by the number of queries.
#
# Usage: bash provenance-sqlx/scripts/query_instructions.sh   (valgrind and python3 needed)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p provenance-sqlx --example profile_queries
bin=target/release/examples/profile_queries
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The inclusive cost of the calls into functions matching $1 from functions that do not.
calls_into() {
    callgrind_annotate --tree=caller --threshold=100 "$out" | python3 -c '
import re, sys
inside = re.compile(sys.argv[1])
line = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?([<*])\s+\S*?:(.*?)(?: \(\d[\d,]*x\))? \[")
total, callers, found = 0, [], False
for text in sys.stdin:
    m = line.match(text)
    if not m:
        callers = []
        continue
    cost, kind, name = int(m.group(1).replace(",", "")), m.group(2), m.group(3)
    if kind == "<":
        callers.append((cost, name))
    elif inside.search(name):
        found = True
        total += sum(c for c, caller in callers if not inside.search(caller))
    else:
        callers = []
if not found:
    sys.exit("no function matches " + sys.argv[1] + ": inlined or renamed?")
print(total)
' "$1"
}
recording='^provenance_sqlx::pool::observe|^provenance_sqlx::recorder::Observation<|^core::ptr::drop_in_place<provenance_sqlx::recorder::Observation<'
printf '%-34s %18s %22s\n' "case (rows, N, how)" "recording a query" "catch-up of N, in all"
for args in "0 10000 optional" "1 10000 all" "100 2000 all" "1 10000 insert"; do
    read -r rows n how <<<"$args"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" ours "$rows" "$n" "$how" >/dev/null 2>&1
    once=$(calls_into "$recording")
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" ours "$rows" $((2 * n)) "$how" >/dev/null 2>&1
    twice=$(calls_into "$recording")
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" linked "$rows" "$n" "$how" >/dev/null 2>&1
    c=$(calls_into '^provenance::store::Store::catch_up$')
    printf '%-34s %18d %22d\n' "$rows rows, $n, $how" $(((twice - once) / n)) "$c"
done
