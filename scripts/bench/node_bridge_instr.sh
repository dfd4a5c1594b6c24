#!/usr/bin/env bash
# node_bridge_instr.sh - what the Node.js runtime bridge
# (bridges/node/autotrace-bridge.js) costs per request, in instructions
# (valgrind's callgrind counts every instruction a process runs in user
# space, JIT code included, so the figure does not move with the
# machine's load as CPU time does).
#
#   scripts/bench/node_bridge_instr.sh [BUILD [BRIDGE.js...]]
#
# Workload: scenario 6's pair (tests/bench/node/service.js: a frontend
# that GETs from a backend through a keep-alive agent), both services
# under libautotrace and under callgrind (one profile per thread),
# exporting to a sink, driven by BUILD/fixtures/ctx/ctx_load (CONC in
# flight, every answer checked; a few wrong answers under valgrind's
# slowness - a keep-alive connection the backend closed as the frontend
# reused it - are reported, not fatal).  Node runs with fixed hash and
# random seeds.  Per run: WARM requests, then the counters are zeroed
# (callgrind_control -z), N requests (a new ctx_load: new connections),
# a dump, 2N requests, a dump.  Counted: the main (JavaScript) thread
# only, less its garbage collections (Heap::CollectGarbage, inclusive):
# V8's compiler and GC helper threads and the collections vary by several
# thousand instructions per request from run to run, the bridge's share
# of them is not what is measured here.  Two figures per service:
#   steady  (main(2N) - main(N)) / N: a request on warm connections;
#   first N main(N) / N: also what each new batch of connections costs
#           (the interval starts with 20 new connections).
# Modes: off (AUTOTRACE_RUNTIME_BRIDGES=false), then each BRIDGE.js
# (BUILD/autotrace-bridge.js unless told), in turn, REPS rounds; a bridge
# is run by a copy of BUILD's library in a directory of its own (the
# library loads the bridge file beside it), so that two bridges can be
# compared with one build.  Each bridge's cost is its figure - off's of
# the same round.
#   N (300), WARM (1000), CONC (20), REPS (2) from the environment;
#   KEEP=DIR keeps the profiles.
# Run it under `nice -n 19` on a shared machine: a mode takes two or
# three minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- "$build/autotrace-bridge.js"
n=${N:-300}
warm=${WARM:-1000}
conc=${CONC:-20}
reps=${REPS:-2}
tmp=$(mktemp -d)
# (services run in run()'s subshell: their pids are kept in $tmp/pids)
trap 'trap - ERR; jobs -p | xargs -r kill 2>/dev/null || true
	xargs -r kill <"$tmp/pids" 2>/dev/null || true; rm -rf "$tmp"' EXIT
. scripts/bench/lib.sh

command -v valgrind >/dev/null || { echo "node_bridge_instr: valgrind not found" >&2; exit 1; }
: >"$tmp/pids"
i=0
for b in "$@"; do
	i=$((i + 1))
	mkdir "$tmp/lib$i"
	cp "$build/libautotrace.so" "$build/autotrace-https.js" "$tmp/lib$i/"
	cp "$b" "$tmp/lib$i/autotrace-bridge.js"
done
svc=tests/bench/node
# NODE_FLAGS: more node options for both services (none by default:
# --single-threaded, which compiles and collects on the main thread,
# made the counts four times larger and noisier).

# cg_service NAME PORTFILE [DOWNSTREAM]: start a service under callgrind
# (sets server_pid, server_port).
cg_service() {
	local name=$1
	shift
	rm -f "$tmp/cg.$name"* "$1"
	LD_PRELOAD=$lib "${pfx[@]}" valgrind --tool=callgrind --separate-threads=yes \
		--callgrind-out-file="$tmp/cg.$name" \
		node --hash-seed=1 --random-seed=1 ${NODE_FLAGS:-} --require "./$svc/exit-on-term.js" \
		"$svc/service.js" "$@" >/dev/null 2>"$tmp/cg.$name.err" &
	server_pid=$!
	echo "$server_pid" >>"$tmp/pids"
	wait_file "$1" 180
	server_port=$(cat "$1")
}

# main FILE: the main thread's instructions less its garbage collections.
main() {
	local t g
	t=$(sed -n 's/^totals: \([0-9]*\).*/\1/p' "$1" | head -1)
	g=$(callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
		awk '/Heap::CollectGarbage\(/ {gsub(",", "", $1); print $1; exit}')
	echo $((t - ${g:-0}))
}

# load PORT COUNT: COUNT requests.
load() {
	local out
	out=$("$build/fixtures/ctx/ctx_load" 127.0.0.1 "$1" --conc "$conc" --count "$2") ||
		echo "node_bridge_instr: $mode: some wrong answers: $out" >&2
}

# run MODE -> steady and first-N instructions per request, backend and
# frontend (MODE: off, or the number of a bridge).
run() {
	local mode=$1 lib=$tmp/lib${1/off/1}/libautotrace.so
	local -a pfx=(env)
	[ "$mode" = off ] && pfx+=(AUTOTRACE_RUNTIME_BRIDGES=false)
	sink_start
	cg_service back "$tmp/back.port"
	local back=$server_pid bport=$server_port
	cg_service front "$tmp/front.port" "$bport"
	local front=$server_pid fport=$server_port
	load "$fport" "$warm"
	callgrind_control -z "$back" >/dev/null 2>&1
	callgrind_control -z "$front" >/dev/null 2>&1
	load "$fport" "$n"
	callgrind_control -d "$back" >/dev/null 2>&1
	callgrind_control -d "$front" >/dev/null 2>&1
	load "$fport" $((2 * n))
	callgrind_control -d "$back" >/dev/null 2>&1
	callgrind_control -d "$front" >/dev/null 2>&1
	stop "$front"
	stop "$back"
	sink_stop >/dev/null
	[ -z "${KEEP:-}" ] || { mkdir -p "$KEEP/$mode"; cp "$tmp"/cg.* "$KEEP/$mode/"; }
	awk -v a="$(main "$tmp/cg.back.1-01")" -v b="$(main "$tmp/cg.back.2-01")" \
	    -v c="$(main "$tmp/cg.front.1-01")" -v d="$(main "$tmp/cg.front.2-01")" -v n="$n" \
		'BEGIN {printf "%.0f %.0f %.0f %.0f\n", (b - a) / n, (d - c) / n, a / n, c / n}' </dev/null
}

echo "node bridge: instructions per request of the main thread less GC, N=$n and 2N after $warm, $conc in flight"
i=0
for b in "$@"; do
	i=$((i + 1))
	echo "  bridge $i: $b"
done
printf '%-6s %-8s %22s %22s %22s %22s\n' round mode "steady back (+bridge)" "steady front (+bridge)" \
	"first N back (+bridge)" "first N front (+bridge)"
for r in $(seq 1 "$reps"); do
	read -r o1 o2 o3 o4 < <(run off)
	printf '%-6s %-8s %22s %22s %22s %22s\n' "$r" off "$o1" "$o2" "$o3" "$o4"
	for m in $(seq 1 $#); do
		read -r b1 b2 b3 b4 < <(run "$m")
		printf '%-6s %-8s %22s %22s %22s %22s\n' "$r" "bridge $m" "$b1 ($((b1 - o1)))" \
			"$b2 ($((b2 - o2)))" "$b3 ($((b3 - o3)))" "$b4 ($((b4 - o4)))"
	done
done
