#!/usr/bin/env bash
# Instructions the sqlx pool's recording takes, per query, counted by callgrind only inside
# the recording's own functions (--toggle-collect): the observation made when a query is
# issued (the span lookup and the SQL cache included), every row it notes, and its end (the
# store calls that queue its edges included). Unlike a total of `ours` minus `raw`, which
# moves by thousands a query with the sqlx-sqlite worker's thread hand-off, this count is
# the same run after run. Not in it: the copies of the larger boxed future, and what the
# driver does either way.
#
# The second number is what the read at the end pays to link what the queries queued
# (`Store::catch_up`), in all: the queue holds at most the store's event capacity (5 000
# batches here), so divide by that, not by the number of queries.
#
# Usage: bash provenance-sqlx/scripts/query_instructions.sh   (valgrind must be installed)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p provenance-sqlx --example profile_queries
bin=target/release/examples/profile_queries
collected() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 |
    sed -n 's/.*Collected : \([0-9,]*\).*/\1/p' | tr -d ,; }
query=(--toggle-collect='provenance_sqlx::pool::observe*'
    --toggle-collect='provenance_sqlx::recorder::Observation*'
    --toggle-collect='core::ptr::drop_in_place<provenance_sqlx::recorder::Observation*')
printf '%-34s %18s %22s\n' "case (rows, queries, how)" "recording a query" "catch-up, in all"
for args in "0 10000 optional" "1 10000 all" "100 2000 all" "1 10000 insert"; do
    read -r rows n how <<<"$args"
    q=$(collected "${query[@]}" "$bin" ours "$rows" "$n" "$how")
    c=$(collected --toggle-collect='provenance::store::Store::catch_up*' "$bin" linked "$rows" "$n" "$how")
    printf '%-34s %18d %22d\n' "$rows rows, $n, $how" $((q / n)) "$c"
done
