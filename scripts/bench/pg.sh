# Scenario 4, PostgreSQL: pgbench, one client, unix socket, select-only
# and TPC-B-like, bare vs traced (pgbench only), BENCH_PG_PAIRS (60)
# alternating pairs of BENCH_PG_SECONDS (1) s runs (short runs: the two
# halves of a pair a second apart see the same machine more often than
# 3 s runs did), pgbench on the clients' core and
# PostgreSQL on the servers' (lib.sh); each budget (>= 97 % of bare) is
# judged on the median of the pairs' ratios traced / bare.

pg_tps() { # MODE KIND -> tps
	local args=""
	[ "$2" = select-only ] && args=-S
	# shellcheck disable=SC2086
	LD_PRELOAD=$(preload "$1") $client_pin pgbench -c 1 -T "${BENCH_PG_SECONDS:-1}" $args -h "$pgdir" -p "$pgport" \
		-U postgres autotrace 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
pg_select() { pg_tps "$1" select-only; }
pg_tpcb() { pg_tps "$1" tpcb; }

bench_pg() {
	local kind b t r label
	local reps=${BENCH_PG_PAIRS:-60}
	echo "== 4. PostgreSQL: pgbench, one client, unix socket, bare vs traced ($reps pairs of ${BENCH_PG_SECONDS:-1} s runs, alternating, median of the pairs' ratios)"
	pgdir=$(mktemp -u /tmp/at-pg-XXXXXX)
	if ! sh tests/fixtures/pg/pg-run.sh start "$pgdir" >/dev/null; then
		say "PostgreSQL could not start: skipped"
		row "pgbench" "(not run: PostgreSQL did not start)" "≥ 97 %"
		return
	fi
	pgport=$(cat "$pgdir/port")
	pin_server "$(sed -n 1p "$pgdir/data/postmaster.pid")"
	pgbench -i -q -s 1 -h "$pgdir" -p "$pgport" -U postgres autotrace >/dev/null 2>&1
	sink_start
	for kind in select tpcb; do
		alternate pg_$kind bare traced
		b=$(median "$tmp/pg_$kind.bare")
		t=$(median "$tmp/pg_$kind.traced")
		pair_fig ratio "$tmp/pg_$kind.traced" "$tmp/pg_$kind.bare" >"$tmp/pg_$kind.ratio"
		r=$(median "$tmp/pg_$kind.ratio")
		say "%-40s %8.0f tps bare, %8.0f tps traced (medians): ratio %.3f [%s over %d pairs] (%+.2f us per transaction)" \
			"pgbench $kind" "$b" "$t" "$r" "$(spread "$tmp/pg_$kind.ratio")" "$(wc -l <"$tmp/pg_$kind.ratio")" \
			"$(calc '1e6 / t - 1e6 / b' t="$t" b="$b")"
		json_put "pgbench $kind ratio" "$r" "traced/bare"
		label="\`pgbench -S\`"
		[ $kind = tpcb ] && label="\`pgbench\` TPC-B-like"
		row "$label, one client, unix socket" \
			"$(calc '100 * r' r="$r") % of bare TPS [$(spread "$tmp/pg_$kind.ratio")] ($(delta "$(calc '1e6 / t' t="$t")" "$(calc '1e6 / b' b="$b")") us per transaction)" "≥ 97 %"
		judge "pgbench_$kind" "$tmp/pg_$kind.ratio"
	done
	say "spans received by the sink: %s" "$(sink_stop)"
	sh tests/fixtures/pg/pg-run.sh stop "$pgdir" >/dev/null 2>&1 || true
}
