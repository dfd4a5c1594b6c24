#!/usr/bin/env bash
# make bench: benchmarks of the core pipeline.  Prints figures and ratios
# against the same work without the library, measured in this run; writes
# BUILD/bench.json.  A benchmark, not a test: it never fails on timing.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
lib=$(realpath "$build/libautotrace.so")
json=$build/bench.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -n "${rx_pid:-}" ] && kill $rx_pid 2>/dev/null || true' EXIT

echo "== machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "== core micro-benchmarks (in-process)"
"$build/bench/bench_core" --json "$tmp/core.json"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "== hooks that make no span (in one process: through the hook vs the real function)"
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9 "$build/bench/bench_hooks" --json "$tmp/hooks.json"
echo "== RSS added by loading the library (100 connect spans, exporter running)"
"$build/autotrace-receiver" --port 0 --port-file "$tmp/port" >/dev/null &
rx_pid=$!
for _ in $(seq 1 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
: >"$tmp/rss_bare"; : >"$tmp/rss_pre"
for i in 1 2 3 4 5; do
	"$build/fixtures/rss_probe" "$port" 100 | awk '{print $2}' >>"$tmp/rss_bare"
	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$port LD_PRELOAD=$lib \
		"$build/fixtures/rss_probe" "$port" 100 | awk '{print $2}' >>"$tmp/rss_pre"
done
rb=$(median <"$tmp/rss_bare"); rp=$(median <"$tmp/rss_pre")
awk -v b="$rb" -v p="$rp" 'BEGIN {printf "%-34s %8d KiB bare, %8d KiB preloaded: %+d KiB (%.2f MB)\n", "VmRSS", b, p, p-b, (p-b)/1024}'

{
	sed '$d' "$tmp/core.json"
	echo "  ,\"hook_close_added_ns\": {\"value\": $(sed 's/.*"hook_close_added_ns": \([-0-9.]*\).*/\1/' "$tmp/hooks.json"), \"unit\": \"ns\"}"
	echo "  ,\"hook_getsockopt_added_ns\": {\"value\": $(sed 's/.*"hook_getsockopt_added_ns": \([-0-9.]*\).*/\1/' "$tmp/hooks.json"), \"unit\": \"ns\"}"
	echo "  ,\"rss_added_kib\": {\"value\": $((rp - rb)), \"unit\": \"KiB\"}"
	echo "}"
} >"$json"
echo "== wrote $json"
