# Scenario 7, scale: wrk (2 threads, 50 connections) against http_service
# (a thread per connection), bare vs traced.  The two services are up at
# once (the traced one with AUTOTRACE_DEBUG=1, whose exit line gives the
# spans made, exported and dropped; its VmRSS read every second), and
# `wrk -d BENCH_WRK_SECONDS (1) s` runs take turns against them,
# BENCH_CHUNK_PAIRS (40) pairs in ABBA order (scripts/bench/interleave.py,
# scripts/bench/wrk_chunks.sh): two runs a second apart see the same
# machine, where 7 pairs of 5 s runs one after the other gave medians
# 0.84 and 1.00 in two whole runs.  The budget (>= 97 % of bare
# throughput) is judged on the pairs' ratios traced / bare.  wrk and the
# services are not pinned: wrk's two threads and the service's share both
# cores, as a user's load would.

# rss_sampler PID FILE: append the VmRSS of PID to FILE every second.
rss_sampler() {
	while kill -0 "$1" 2>/dev/null; do
		rss_kib "$1" >>"$2" 2>/dev/null || break
		sleep 1
	done
}

bench_scale() {
	local b t f r secs=${BENCH_WRK_SECONDS:-1} i pre port=() pid=() samplers=()
	local stats received rss_end_bare
	echo "== 7. scale: wrk -t2 -c50 -d${secs}s against http_service (thread per connection), bare and traced up at once, $chunk_pairs pairs of runs in turns (median of the ratios)"
	if ! command -v wrk >/dev/null; then
		say "wrk not found (scripts/install-deps.sh installs it): skipped"
		return
	fi
	sink_start
	for i in 0 1; do
		pre=""
		[ $i = 1 ] && pre=$lib
		: >"$tmp/rss.$i"
		server_stderr=$tmp/scale.$i.err AUTOTRACE_DEBUG=1 start_server "$tmp/scale.$i.port" \
			"$pre" "$build/fixtures/http_service" "$tmp/scale.$i.port" --threads
		port+=("$server_port") pid+=("$server_pid")
		rss_sampler "$server_pid" "$tmp/rss.$i" &
		samplers+=($!)
	done
	f=$tmp/scale.traced
	/usr/bin/python3 scripts/bench/interleave.py --pairs "$chunk_pairs" --out "$tmp/scale" \
		--bare "exec scripts/bench/wrk_chunks.sh '' -t2 -c50 -d${secs}s http://127.0.0.1:${port[0]}/" \
		--traced "exec scripts/bench/wrk_chunks.sh '' -t2 -c50 -d${secs}s http://127.0.0.1:${port[1]}/" ||
		say "the scale loop failed: its figures are incomplete"
	rss_end_bare=$(rss_kib "${pid[0]}" 2>/dev/null || echo 0)
	stop "${pid[0]}"
	stop "${pid[1]}"
	wait "${samplers[@]}" 2>/dev/null || true
	received=$(sink_stop)
	stats=$(sed -n 's/.*spans started=\([0-9]*\) .* exported=\([0-9]*\) dropped=\([0-9]*\) .*/\1 \2 \3/p' "$tmp/scale.1.err")
	# shellcheck disable=SC2086
	set -- ${stats:-0 0 0}
	b=$(median "$tmp/scale.bare" 1)
	t=$(median "$f" 1)
	pair_fig ratio "$f" "$tmp/scale.bare" >"$tmp/scale.ratio"
	r=$(median "$tmp/scale.ratio")
	say "%-40s %8.0f req/s bare, %8.0f req/s traced (medians): ratio %s [%s over %d pairs]; mean latency %s ms bare, %s ms traced" \
		"throughput" "$b" "$t" "$r" "$(spread "$tmp/scale.ratio")" "$(wc -l <"$tmp/scale.ratio")" \
		"$(median "$tmp/scale.bare" 2)" "$(median "$f" 2)"
	local r0 r1 rmax n
	r0=$(sed -n 3p "$tmp/rss.1" | grep . || echo 0)
	r1=$(tail -1 "$tmp/rss.1" | grep . || echo 0)
	rmax=$(sort -n "$tmp/rss.1" | tail -1 | grep . || echo 0)
	n=$(wc -l <"$tmp/rss.1")
	say "traced service, the whole loop: spans started %s, exported %s, dropped %s (%.2f %%), received by the sink %s; VmRSS %s KiB at 2 s, %s KiB at the end, %s KiB at most (%s samples)" \
		"$1" "$2" "$3" "$(calc '100 * d / (s ? s : 1)' d="$3" s="$1")" "$received" "$r0" "$r1" "$rmax" "$n"
	json_put "scale throughput ratio" "$r" "traced/bare"
	json_put "scale requests/s, bare" "$b" "requests/s"
	json_put "scale requests/s, traced" "$t" "requests/s"
	json_put "scale dropped" "$3" "spans"
	json_put "scale exported" "$2" "spans"
	json_put "scale RSS growth, 2 s to end" "$(calc 'a - b' a="$r1" b="$r0")" "KiB"
	json_put "scale RSS added at the end" "$(calc 'a - b' a="$r1" b="$rss_end_bare")" "KiB"
	say "VmRSS at the end: %s KiB bare, %s KiB traced (50 threads with a span buffer each)" "$rss_end_bare" "$r1"
	row "wrk -t2 -c50 against a traced C service (thread per connection), ${secs} s runs in turns" \
		"$(calc '100 * r' r="$r") % of bare throughput [$(spread "$tmp/scale.ratio")] ($b req/s bare); $3 spans dropped of $1; RSS $r0 KiB at 2 s, $r1 KiB at the end ($rss_end_bare KiB bare)" \
		"≥ 97 %; exporter keeps up or counts drops; memory flat"
	judge scale_wrk "$tmp/scale.ratio"
}
