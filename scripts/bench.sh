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

echo "== hooks that make no span (bare vs preloaded, alternating, 7 runs each)"
# Export nowhere: these calls make no span anyway.
export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9
: >"$tmp/bare_close" ; : >"$tmp/pre_close"; : >"$tmp/bare_gso"; : >"$tmp/pre_gso"
for i in 1 2 3 4 5 6 7; do
	"$build/fixtures/bench_hook" 2000000 >"$tmp/b"
	LD_PRELOAD=$lib "$build/fixtures/bench_hook" 2000000 >"$tmp/p"
	awk '/close_ns/ {print $2}' "$tmp/b" >>"$tmp/bare_close"
	awk '/close_ns/ {print $2}' "$tmp/p" >>"$tmp/pre_close"
	awk '/getsockopt_ns/ {print $2}' "$tmp/b" >>"$tmp/bare_gso"
	awk '/getsockopt_ns/ {print $2}' "$tmp/p" >>"$tmp/pre_gso"
done
bc=$(median <"$tmp/bare_close"); pc=$(median <"$tmp/pre_close")
bg=$(median <"$tmp/bare_gso"); pg=$(median <"$tmp/pre_gso")
awk -v b="$bc" -v p="$pc" 'BEGIN {printf "%-34s %8.2f ns bare, %8.2f ns preloaded: %+.2f ns (ratio %.3f)\n", "close(-1)", b, p, p-b, p/b}'
awk -v b="$bg" -v p="$pg" 'BEGIN {printf "%-34s %8.2f ns bare, %8.2f ns preloaded: %+.2f ns (ratio %.3f)\n", "getsockopt(SO_TYPE)", b, p, p-b, p/b}'

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
	echo "  ,\"hook_close_added_ns\": {\"value\": $(awk -v b="$bc" -v p="$pc" 'BEGIN{print p-b}'), \"unit\": \"ns\"}"
	echo "  ,\"hook_getsockopt_added_ns\": {\"value\": $(awk -v b="$bg" -v p="$pg" 'BEGIN{print p-b}'), \"unit\": \"ns\"}"
	echo "  ,\"rss_added_kib\": {\"value\": $((rp - rb)), \"unit\": \"KiB\"}"
	echo "}"
} >"$json"
echo "== wrote $json"
