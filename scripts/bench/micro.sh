# Scenario 1, micro-benchmarks (and the exporter's throughput of scenario
# 2): bench_core and bench_hooks, each in one process.

bench_micro() {
	local n v
	echo "== 1. micro: spans, propagation, head scans, exporter (in-process)"
	"$build/bench/bench_core" --json "$tmp/core.json" | sed 's/^/  /'
	cat "$tmp/core.json" >>"$tmp/json"
	echo "== 1. hooks that make no span (one process: through the hook vs libc, alternating)"
	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9 \
		"$build/bench/bench_hooks" --json "$tmp/hooks.json" | sed 's/^/  /'
	cat "$tmp/hooks.json" >>"$tmp/json"

	row "sampled span (start, 6 attributes, end, enqueue), 1 thread" \
		"$(json_get "sampled span, 1 thread, CPU") ns CPU, $(json_get "sampled span, 1 thread, wall") ns wall" "≤ 100 ns"
	for n in 2 4 8; do
		row "sampled span, $n threads at once (2 cores), per span per thread" \
			"$(json_get "sampled span, $n threads, CPU") ns CPU, $(json_get "sampled span, $n threads, wall") ns wall" "flat (CPU)"
	done
	row "unsampled span" "$(json_get "unsampled span") ns" "≤ 20 ns"
	row "traceparent format / parse" \
		"$(json_get "traceparent format") / $(json_get "traceparent parse") ns" "-"
	v=$(grep -o '"HTTP request head scan[^"]*"' "$tmp/json" | tr -d '"')
	n=$(grep -o '"HTTP response head scan[^"]*"' "$tmp/json" | tr -d '"')
	row "HTTP head scan per request: ${v#HTTP request head scan, } request + ${n#HTTP response head scan, } response" \
		"$(json_get "$v") + $(json_get "$n") ns" "-"
	v=$(grep '"hook added, ' "$tmp/hooks.json" | sed 's/.*"value": \([^,]*\),.*/\1/' |
		sort -g | sed -n '1p;$p' | paste -sd' ')
	row "hooked call that makes no span (close, getsockopt, file, pipe, non-HTTP TCP)" \
		"${v% *} to ${v#* } ns per call" "≤ 5 ns"
	row "exporter, one core, to a loopback sink" \
		"$(calc 'v/1e6' v="$(json_get "exporter throughput")") M spans/s, $(json_get "bytes per span on the wire") bytes/span; gzip $(calc 'v/1e6' v="$(json_get "exporter throughput, gzip")") M spans/s, $(json_get "bytes per span on the wire, gzip") bytes/span" \
		"≥ 1 M spans/s"
}
