# Scenario 7, scale: wrk (2 threads, 50 connections, BENCH_WRK_SECONDS (5)
# s) against http_service (a thread per connection), bare vs traced,
# BENCH_PAIRS alternating pairs; the budget (>= 97 % of bare throughput)
# is judged on the pairs' ratios traced / bare.  The
# traced service runs with AUTOTRACE_DEBUG=1, whose exit line gives the
# spans made, exported and dropped; the sink counts what it received; the
# service's VmRSS is read every second.

# rss_sampler PID FILE: append the VmRSS of PID to FILE every second.
rss_sampler() {
	while kill -0 "$1" 2>/dev/null; do
		rss_kib "$1" >>"$2" 2>/dev/null || break
		sleep 1
	done
}

# scale_run MODE -> requests/s, mean latency ms, spans started, exported,
# dropped, received by the sink, VmRSS KiB at 2 s, at the end, at most,
# and how many times VmRSS was read.
scale_run() {
	local mode=$1 secs=$wrk_seconds out=$tmp/wrk.out rss=$tmp/rss.$1 sampler stats
	sink_start
	: >"$rss"
	server_stderr=$tmp/scale.err AUTOTRACE_DEBUG=1 start_server "$tmp/scale.port" \
		"$(preload "$mode")" "$build/fixtures/http_service" "$tmp/scale.port" --threads
	rss_sampler "$server_pid" "$rss" &
	sampler=$!
	wrk -t2 -c50 -d"${secs}s" "http://127.0.0.1:$server_port/" >"$out" 2>&1 || true
	stop "$server_pid"
	wait "$sampler" 2>/dev/null || true
	stats=$(sed -n 's/.*spans started=\([0-9]*\) .* exported=\([0-9]*\) dropped=\([0-9]*\) .*/\1 \2 \3/p' "$tmp/scale.err")
	echo "$(awk '/^Requests\/sec:/ {print $2}' "$out")" \
		"$(awk '$1 == "Latency" {v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
			printf "%.3f\n", (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v}' "$out")" \
		"${stats:-0 0 0}" "$(sink_stop)" \
		"$(sed -n 3p "$rss" | grep . || echo 0)" "$(tail -1 "$rss" | grep . || echo 0)" \
		"$(sort -n "$rss" | tail -1 | grep . || echo 0)" "$(wc -l <"$rss")"
}

bench_scale() {
	local b t f r reps=$pairs
	wrk_seconds=${BENCH_WRK_SECONDS:-5}
	echo "== 7. scale: wrk -t2 -c50 -d${wrk_seconds}s against http_service (thread per connection), bare vs traced ($reps pairs, alternating, median of the ratios)"
	if ! command -v wrk >/dev/null; then
		say "wrk not found (scripts/install-deps.sh installs it): skipped"
		return
	fi
	alternate scale_run bare traced
	f=$tmp/scale_run.traced
	b=$(median "$tmp/scale_run.bare" 1)
	t=$(median "$f" 1)
	pair_fig ratio "$f" "$tmp/scale_run.bare" >"$tmp/scale.ratio"
	r=$(median "$tmp/scale.ratio")
	say "%-40s %8.0f req/s bare, %8.0f req/s traced (medians): ratio %s [%s over %d pairs]; mean latency %s ms bare, %s ms traced" \
		"throughput" "$b" "$t" "$r" "$(spread "$tmp/scale.ratio")" "$(wc -l <"$tmp/scale.ratio")" \
		"$(median "$tmp/scale_run.bare" 2)" "$(median "$f" 2)"
	while read -r _ _ started exported dropped received r0 r1 rmax samples; do
		say "traced run: spans started %s, exported %s, dropped %s (%.2f %%), received by the sink %s; VmRSS %s KiB at 2 s, %s KiB at the end, %s KiB at most (%s samples)" \
			"$started" "$exported" "$dropped" "$(calc '100 * d / (s ? s : 1)' d="$dropped" s="$started")" \
			"$received" "$r0" "$r1" "$rmax" "$samples"
	done <"$f"
	json_put "scale throughput ratio" "$r" "traced/bare"
	json_put "scale requests/s, bare" "$b" "requests/s"
	json_put "scale requests/s, traced" "$t" "requests/s"
	json_put "scale dropped" "$(median "$f" 5)" "spans"
	json_put "scale exported" "$(median "$f" 4)" "spans"
	json_put "scale RSS growth, 2 s to end" "$(calc 'a - b' a="$(median "$f" 8)" b="$(median "$f" 7)")" "KiB"
	json_put "scale RSS added at the end" "$(calc 'a - b' a="$(median "$f" 8)" b="$(median "$tmp/scale_run.bare" 8)")" "KiB"
	say "VmRSS at the end: %s KiB bare, %s KiB traced (50 threads with a span buffer each)" \
		"$(median "$tmp/scale_run.bare" 8)" "$(median "$f" 8)"
	row "wrk -t2 -c50 -d${wrk_seconds}s against a traced C service (thread per connection)" \
		"$(calc '100 * r' r="$r") % of bare throughput [$(spread "$tmp/scale.ratio")] ($b req/s bare); $(median "$f" 5) spans dropped of $(median "$f" 3); RSS $(median "$f" 7) KiB at 2 s, $(median "$f" 8) KiB at the end ($(median "$tmp/scale_run.bare" 8) KiB bare)" \
		"≥ 97 %; exporter keeps up or counts drops; memory flat"
	judge scale_wrk "$tmp/scale.ratio"
}
