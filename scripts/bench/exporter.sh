# Scenario 2, the exporter under pressure and the memory it costs:
#  - bench_queue: 2 producer threads make spans as fast as they can while
#    the exporter thread exports to a sink, or to a blackholed collector
#    that never answers, at the default and at the largest queue size:
#    drops are counted (made = exported + dropped + still queued), the
#    producers' cost per span is compared (sink vs blackhole), and the
#    resident memory added with every ring in use is read;
#  - rss_probe: a small program's VmRSS bare vs preloaded (100 connect
#    spans made and exported).

# queue_run MODE (sink|blackhole _ QUEUE) -> producer wall and CPU ns per
# span, % dropped, RSS added KiB, spans held (rings + exporter), and 1 if
# every span is accounted for (sink: all exported or dropped, and received
# as exported; blackhole: at most one batch taken by the exporter).
queue_run() {
	local m=${1%_*} q=${1#*_}
	"$build/bench/bench_queue" "$m" "$q" 2 1000000 |
		awk '{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
		      ok = v["mode"] == "sink" ? v["queued"] == 0 && v["in_export"] == 0 && v["received"] == v["exported"] \
					     : v["in_export"] >= 0 && v["in_export"] <= 512
		      printf "%.1f %.1f %.2f %d %d %d\n", v["wall_ns"], v["cpu_ns"],
			     100 * v["dropped"] / v["made"], v["rss_added_kib"],
			     v["queued"] + v["in_export"], ok}'
}

rss_run() { # MODE -> VmRSS KiB of rss_probe
	"$build/autotrace-receiver" --port 0 --port-file "$tmp/rss.port" >/dev/null 2>&1 &
	local rx=$!
	wait_file "$tmp/rss.port"
	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$(cat "$tmp/rss.port") \
		LD_PRELOAD=$(preload "$1") "$build/fixtures/rss_probe" "$(cat "$tmp/rss.port")" 100 |
		awk '{print $2}'
	stop $rx
	rm -f "$tmp/rss.port"
}

bench_exporter() {
	local qmax=1048576 mode f lost=0 acc
	echo "== 2. exporter: 2 producers at full speed, sink vs blackholed collector, default and largest queue ($reps runs each, medians)"
	alternate queue_run sink_2048 blackhole_2048 sink_$qmax blackhole_$qmax
	for mode in sink_2048 blackhole_2048 sink_$qmax blackhole_$qmax; do
		f=$tmp/queue_run.$mode
		say "%-22s producer %6.1f ns/span wall, %6.1f ns CPU; dropped %5.1f %%; %6d spans held at the end; RSS +%d KiB" \
			"${mode/_/, queue }" "$(median "$f" 1)" "$(median "$f" 2)" "$(median "$f" 3)" \
			"$(median "$f" 5)" "$(median "$f" 4)"
		json_put "queue $mode, producer wall" "$(median "$f" 1)" "ns/span"
		json_put "queue $mode, producer CPU" "$(median "$f" 2)" "ns/span"
		json_put "queue $mode, dropped" "$(median "$f" 3)" "%"
		json_put "queue $mode, RSS added" "$(median "$f" 4)" "KiB"
		json_put "queue $mode, spans held at the end" "$(median "$f" 5)" "spans"
		lost=$((lost + $(awk '$6 != 1 {n++} END {print n + 0}' "$f")))
	done
	say "runs with spans unaccounted for: %d (made = exported + dropped + held; sink count = exported)" "$lost"
	json_put "queue runs with spans unaccounted for" "$lost" "runs"
	acc="all counted"
	[ "$lost" -eq 0 ] || acc="$lost runs with spans unaccounted for"
	row "exporter outrun: 2 producers at full speed, sink / blackholed collector" \
		"producer $(median "$tmp/queue_run.sink_2048" 2) / $(median "$tmp/queue_run.blackhole_2048" 2) ns CPU per span ($(median "$tmp/queue_run.sink_2048" 1) / $(median "$tmp/queue_run.blackhole_2048" 1) ns wall); dropped $(median "$tmp/queue_run.sink_2048" 3) % / $(median "$tmp/queue_run.blackhole_2048" 3) %, $acc" \
		"dropped and counted, producers not slowed"
	row "RSS added, 2 producers with full buffers, queue 2048 / $qmax" \
		"$(median "$tmp/queue_run.blackhole_2048" 4) / $(median "$tmp/queue_run.blackhole_$qmax" 4) KiB ($(median "$tmp/queue_run.blackhole_$qmax" 5) spans held)" "≤ 8 MB"

	echo "== 2. RSS added by loading the library (rss_probe: 100 connect spans made and exported)"
	alternate rss_run bare traced
	local rb rt
	rb=$(median "$tmp/rss_run.bare")
	rt=$(median "$tmp/rss_run.traced")
	say "VmRSS %d KiB bare, %d KiB preloaded: %+d KiB" "$rb" "$rt" "$((rt - rb))"
	json_put "rss added by loading" "$((rt - rb))" "KiB"
	row "RSS added by loading (100 spans made and exported)" "$((rt - rb)) KiB" "≤ 8 MB"
}
