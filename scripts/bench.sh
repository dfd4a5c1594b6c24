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
hook_json=$(cat "$tmp/hooks.json")
echo "== HTTP keep-alive loop on loopback: C client and C server, both bare vs both traced"
svc_dir=$tmp/svc
mkdir -p "$svc_dir"
http_run() { # MODE(bare|traced) -> microseconds per request
	local pre="" port
	rm -f "$svc_dir/port"
	[ "$1" = traced ] && pre=$lib
	LD_PRELOAD=$pre OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$rxport \
		"$build/fixtures/http_service" "$svc_dir/port" --sequential >/dev/null 2>&1 &
	local spid=$!
	for _ in $(seq 1 200); do [ -s "$svc_dir/port" ] && break; sleep 0.05; done
	port=$(cat "$svc_dir/port")
	# The client's own timing of its request loop (not its start or exit).
	local ns
	ns=$(LD_PRELOAD=$pre OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$rxport \
		"$build/fixtures/http_client" --stats --count 20000 127.0.0.1 "$port" 2>&1 >/dev/null |
		sed -n 's/.*elapsed_ns=\([0-9]*\).*/\1/p')
	kill "$spid"; wait "$spid" 2>/dev/null || true
	echo $(( ns / 20000 ))
}
"$build/autotrace-receiver" --sink --port 0 --port-file "$tmp/rxport" >/dev/null 2>&1 &
rxsink=$!
for _ in $(seq 1 200); do [ -s "$tmp/rxport" ] && break; sleep 0.05; done
rxport=$(cat "$tmp/rxport")
: >"$tmp/http_bare"; : >"$tmp/http_traced"
for i in 1 2 3; do
	http_run bare >>"$tmp/http_bare"
	http_run traced >>"$tmp/http_traced"
done
hb=$(median <"$tmp/http_bare"); ht=$(median <"$tmp/http_traced")
awk -v b="$hb" -v t="$ht" 'BEGIN {printf "%-34s %8.2f us bare, %8.2f us traced: %+.2f us per request (ratio %.3f)\n", "request (20000 on one connection)", b/1000, t/1000, (t-b)/1000, t/b}'

echo "== libcurl: curl_easy_perform keep-alive loop (2000 transfers, one handle), bare vs traced"
rm -f "$svc_dir/port"
"$build/fixtures/http_service" "$svc_dir/port" --sequential >/dev/null 2>&1 &
cpid=$!
for _ in $(seq 1 200); do [ -s "$svc_dir/port" ] && break; sleep 0.05; done
curl_url="http://127.0.0.1:$(cat "$svc_dir/port")/"
curl_run() { # MODE -> microseconds per transfer (whole run / 2000)
	local pre="" t0 t1
	[ "$1" = traced ] && pre=$lib
	t0=$(date +%s%N)
	LD_PRELOAD=$pre OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$rxport \
		"$build/fixtures/curl_easy_client" $(for _ in $(seq 1 2000); do echo "$curl_url"; done) >/dev/null
	t1=$(date +%s%N)
	echo $(( (t1 - t0) / 2000 ))
}
: >"$tmp/curl_bare"; : >"$tmp/curl_traced"
for i in 1 2 3; do
	curl_run bare >>"$tmp/curl_bare"
	curl_run traced >>"$tmp/curl_traced"
done
kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null || true
cb=$(median <"$tmp/curl_bare"); ct=$(median <"$tmp/curl_traced")
awk -v b="$cb" -v t="$ct" 'BEGIN {printf "%-34s %8.2f us bare, %8.2f us traced: %+.2f us per transfer (ratio %.3f)\n", "curl_easy_perform", b/1000, t/1000, (t-b)/1000, t/b}'

echo "== PostgreSQL: pgbench, one client, unix socket, bare vs traced (alternating, 3 runs of 4 s each, vacuumed before each)"
pgdir=$(mktemp -u /tmp/at-pg-XXXXXX)
if sh tests/fixtures/pg/pg-run.sh start "$pgdir" >/dev/null; then
	pgport=$(cat "$pgdir/port")
	pgbench -i -q -s 1 -h "$pgdir" -p "$pgport" -U postgres autotrace >/dev/null 2>&1
	pg_tps() { # MODE(bare|traced) ARGS... -> tps
		local pre=""
		[ "$1" = traced ] && pre=$lib
		shift
		LD_PRELOAD=$pre OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$rxport \
			pgbench -c 1 -T 4 "$@" -h "$pgdir" -p "$pgport" -U postgres autotrace 2>/dev/null |
			sed -n 's/^tps = \([0-9.]*\).*/\1/p'
	}
	for kind in select-only tpcb; do
		args=""
		[ $kind = select-only ] && args=-S
		: >"$tmp/pg_bare"; : >"$tmp/pg_traced"
		for i in 1 2 3; do
			pg_tps bare $args >>"$tmp/pg_bare"
			pg_tps traced $args >>"$tmp/pg_traced"
		done
		pb=$(median <"$tmp/pg_bare"); pt=$(median <"$tmp/pg_traced")
		awk -v b="$pb" -v t="$pt" -v k="$kind" 'BEGIN {printf "%-34s %8.0f tps bare, %8.0f tps traced: %.1f %% of bare (%+.2f us per transaction)\n", "pgbench " k, b, t, 100*t/b, 1e6/t - 1e6/b}'
		eval "pg_${kind//-/_}_ratio=\$(awk -v b=\"$pb\" -v t=\"$pt\" 'BEGIN{print t/b}')"
	done
	sh tests/fixtures/pg/pg-run.sh stop "$pgdir" >/dev/null 2>&1 || true
else
	echo "PostgreSQL could not start: skipped"
fi
kill $rxsink 2>/dev/null || true

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
	echo "  ,\"hook_added_ns_per_call\": $hook_json"
	echo "  ,\"rss_added_kib\": {\"value\": $((rp - rb)), \"unit\": \"KiB\"}"
	echo "  ,\"http_keepalive_added_us\": {\"value\": $(awk -v b="$hb" -v t="$ht" 'BEGIN{print (t-b)/1000}'), \"unit\": \"us\"}"
	echo "  ,\"curl_easy_perform_added_us\": {\"value\": $(awk -v b="$cb" -v t="$ct" 'BEGIN{print (t-b)/1000}'), \"unit\": \"us\"}"
	echo "  ,\"pgbench_select_only_ratio\": {\"value\": ${pg_select_only_ratio:-null}, \"unit\": \"traced/bare\"}"
	echo "  ,\"pgbench_tpcb_ratio\": {\"value\": ${pg_tpcb_ratio:-null}, \"unit\": \"traced/bare\"}"
	echo "}"
} >"$json"
echo "== wrote $json"
