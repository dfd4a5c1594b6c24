#!/usr/bin/env bash
# make bench: every scenario of the benchmark, each bare and under the
# library in the same run (alternating runs, BENCH_REPS repetitions,
# medians).  Prints figures and ratios, writes BUILD/bench.json, prints a
# markdown table of the figures and, last, a verdict per budget of issue 19
# (scripts/bench/budgets.sh: the budgets, and the rule: the median of the
# per-pair figures decides, its spread printed beside it; in-process
# figures: the best run).  A benchmark, not a test: it never
# fails on timing.
#
#   scripts/bench.sh [BUILD [SCENARIO...]]
#
# Scenarios (scripts/bench/NAME.sh, in this order by default):
#   micro     1: span cost and thread scaling, propagation, head scans,
#                hooks without span, exporter throughput (in-process)
#   exporter  2: producers outrunning the exporter (sink / blackhole),
#                memory at the default and the largest queue size
#   http      3: C and Python HTTP keep-alive pairs
#   pg        4: pgbench
#   curl      5: libcurl keep-alive loop
#   node      6: two Node.js services: bare, OpenTelemetry JS SDK, ours
#   scale     7: wrk against a traced service, throughput and memory
#   wire_pg     PostgreSQL on the wire: node-postgres statement loop
#   wire_mysql  MySQL/MariaDB on the wire: mysql2 keep-alive loop
#   wire_redis  Redis: GET loop through ioredis and redis-py (client CPU
#               per command)
#   ctx_node    a Node.js service at 20 in flight: bare, without/with the
#               bridge, the OpenTelemetry JS SDK
#   ctx_py      Python asyncio (aiohttp front, 20 in flight): bare,
#               traced, bridge off; the bridge's computed cost
#   ctx_native  nginx reverse proxy (2 workers, upstream keep-alive), 20
#               in flight: bare vs traced
#   https       HTTPS keep-alive (Python ssl client and server): bare vs
#               traced, us added per request
#   ctx_node_https  Node's own HTTPS client through the bridge: the cost of
#               one bridged span per request
#   nginx_wrk   wrk -t1 -c1 keep-alive against nginx, only wrk traced
#               (runs of 1 s in turns, median of the ratios)
# BENCH_REPS (default 3) repetitions (bench_core runs, context scenarios);
# BENCH_PG_PAIRS (default 60) pairs of pgbench runs; BENCH_LOOP_PAIRS
# (default 150) pairs of chunks for the loops run interleaved (C HTTP,
# HTTPS, curl, the wire families: scripts/bench/interleave.py), and
# BENCH_REDIS_PAIRS (default 300) for the Redis drivers';
# BENCH_CHUNK_PAIRS (default 40) rounds of Node's scenario 6 and pairs of
# wrk runs of scale; BENCH_NGINX_PAIRS (default 80) of nginx_wrk;
# BENCH_CTX_HTTPS_COST_REPS (default 31) processes of ctx_node_https's
# span cost;
# BENCH_PAIR_REPS (default 7) pairs of whole runs for the Python HTTP loops;
# BENCH_WRK_SECONDS and BENCH_NGINX_SECONDS (default 1) the length of
# each wrk run of scale and nginx_wrk.  The
# instruction counts (no timing at all): scripts/bench/instr.sh, `make
# bench-instr`.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ $# -gt 0 ] && shift
scenarios=${*:-micro exporter http pg curl node scale nginx_wrk wire_pg wire_mysql wire_redis ctx_node ctx_py ctx_native ctx_node_https https}
lib=$(realpath "$build/libautotrace.so")
reps=${BENCH_REPS:-3}
pair_reps=${BENCH_PAIR_REPS:-7}
chunk_pairs=${BENCH_CHUNK_PAIRS:-40}
loop_pairs=${BENCH_LOOP_PAIRS:-150}
tmp=$(mktemp -d)
trap 'echo "bench: failed: ${BASH_SOURCE[0]}:$LINENO: $BASH_COMMAND" >&2' ERR
trap 'trap - ERR; jobs -p | xargs -r kill 2>/dev/null || true; rm -rf "$tmp"' EXIT

. scripts/bench/lib.sh
. scripts/bench/budgets.sh
: >"$tmp/json"
: >"$tmp/verdicts"
: >"$tmp/table"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
echo "== machine: $cpu, $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
for s in $scenarios; do
	t_s=$(date +%s)
	. "scripts/bench/$s.sh"
	"bench_$s"
	echo "  ($s: $(($(date +%s) - t_s)) s)"
	json_put "scenario $s, duration" "$(($(date +%s) - t_s))" "s"
done
# bench_core again at the end, when other scenarios ran after it.
case " $scenarios " in
*" micro "*) [ "$(echo "$scenarios" | wc -w)" = 1 ] || bench_micro_late ;;
esac

{
	echo "{"
	printf '"machine": {"cpu": "%s", "cores": %d}\n' "$cpu" "$(nproc)"
	sed 's/^/,/' "$tmp/json"
	echo ","
	verdicts_json
	echo "}"
} >"$build/bench.json"
echo "== wrote $build/bench.json ($(($(date +%s) - start)) s)"
echo
echo "Figures of this run, on $cpu ($(nproc) cores):"
echo
echo "| what | this run | target |"
echo "|---|---|---|"
cat "$tmp/table"
echo
verdicts_block
