# Helpers shared by the scenario scripts of `make bench` (sourced by
# scripts/bench.sh, which sets build, lib, tmp and reps).
#
# Each scenario measures bare and traced runs alternately, reps times,
# keeps one line of figures per run in $tmp/<name>.<mode>, and reports
# medians: json_put adds a member to build/bench.json, row a line to the
# markdown table printed at the end.  Every traced process exports to a
# sink receiver started for its scenario; the spans the sink counted are
# reported too, as proof that the traced runs were traced.

# median FILE [COLUMN]: median of a column (default 1) of FILE's lines.
median() {
	awk -v c="${2:-1}" '{print $c}' "$1" | sort -g |
		awk '{a[NR]=$1} END {if (!NR) print "null"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# calc EXPR [NAME=VALUE...]: print the awk expression's value (%.4g).
calc() {
	local expr=$1 a
	local -a vars=()
	shift
	for a in "$@"; do vars+=(-v "$a"); done
	awk "${vars[@]}" "BEGIN {v = $expr; printf \"%.4g\\n\", v}" </dev/null
}

# alternate FUNCTION MODE...: run FUNCTION MODE for each mode in turn,
# reps times, appending each run's output line to $tmp/FUNCTION.MODE; the
# modes in the order given in odd rounds and reversed in even ones (ABBA:
# a drift of the machine or the server over the rounds does not always
# favour the mode that runs first).
alternate() {
	local fn=$1 mode i
	shift
	local -a order=("$@") back=()
	for ((i = $# - 1; i >= 0; i--)); do back+=("${order[i]}"); done
	for mode in "$@"; do : >"$tmp/$fn.$mode"; done
	for i in $(seq 1 "$reps"); do
		[ $((i % 2)) = 1 ] && set -- "${order[@]}" || set -- "${back[@]}"
		for mode in "$@"; do
			"$fn" "$mode" >>"$tmp/$fn.$mode"
		done
	done
}

# Cores for the client/server scenarios: on a machine of 2 cores or more,
# the clients run on core 0 and their servers on core 1, so that where the
# scheduler puts them stops changing the cost of a round trip from one
# process to the next (it did, by 10-30 %); on 1 core, no pinning.
# client_cpu for interleave.py; client_pin and server_pin prefix a command.
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	client_cpu=0 client_pin="taskset -c 0" server_pin="taskset -c 1"
else
	client_cpu="" client_pin="" server_pin=""
fi

# pin_server PID: move a running server and its children (every thread;
# what they fork later inherits it) to the servers' core.
pin_server() {
	local p
	[ -n "$server_pin" ] || return 0
	for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		taskset -a -p -c 1 "$p" >/dev/null 2>&1 || true
	done
}

# interleave NAME 'BARE COMMAND' 'TRACED COMMAND': the two commands run at
# once and take turns, one chunk each (scripts/bench/interleave.py: why,
# and what the commands must answer), BENCH_LOOP_PAIRS pairs (150 unless
# told), or interleave_pairs if set; pair i's figures go to line i of
# $tmp/NAME.bare and $tmp/NAME.traced.  Returns non-zero (its reason on stderr) if a side
# failed.
interleave() {
	/usr/bin/python3 scripts/bench/interleave.py --pairs "${interleave_pairs:-$loop_pairs}" \
		--out "$tmp/$1" ${client_cpu:+--cpu "$client_cpu"} --bare "$2" --traced "$3"
}

# interleave_http_service NAME SERVER_MODE 'CLIENT COMMAND': two
# http_service --sequential on the servers' core, the first bare, the
# second bare or traced (SERVER_MODE); then interleave NAME with the client
# command against the first (bare) and, under the library, against the
# second (traced); the command's "{port}" is replaced with the port.
interleave_http_service() {
	local name=$1 client=$3 i pre port=() pid=()
	for i in 0 1; do
		pre=""
		[ $i = 1 ] && pre=$(preload "$2")
		# shellcheck disable=SC2086
		start_server "$tmp/$name.$i.port" "$pre" $server_pin \
			"$build/fixtures/http_service" "$tmp/$name.$i.port" --sequential
		port+=("$server_port") pid+=("$server_pid")
	done
	interleave "$name" "exec ${client//\{port\}/${port[0]}}" \
		"LD_PRELOAD=$lib exec ${client//\{port\}/${port[1]}}" ||
		say "the $name loop failed: its figures are incomplete"
	stop "${pid[0]}"
	stop "${pid[1]}"
}

# wait_file FILE [SECONDS]: wait (at most SECONDS, 20 unless told) until
# FILE exists and is not empty.
wait_file() {
	for _ in $(seq 1 $((${2:-20} * 20))); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	echo "bench: $1 did not appear" >&2
	return 1
}

# preload MODE: the LD_PRELOAD value for a run (the library if traced).
preload() {
	[ "$1" = traced ] && echo "$lib" || true
}

# start_server PORTFILE PRELOAD CMD...: start CMD in the background (its
# output discarded, its stderr to $server_stderr if set) and wait for the
# port it writes; sets server_pid and server_port.
start_server() {
	local pf=$1 pre=$2
	shift 2
	rm -f "$pf"
	LD_PRELOAD=$pre "$@" >/dev/null 2>"${server_stderr:-/dev/null}" &
	server_pid=$!
	wait_file "$pf"
	server_port=$(cat "$pf")
}

# stop PID: SIGTERM and wait for the process (it flushes its spans).
stop() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# sink_start [NAME]: a receiver that counts what it is sent and decodes
# nothing (its files $tmp/NAME.*, "sink" unless told); sets sink_pid, and
# OTEL_EXPORTER_OTLP_ENDPOINT points at it from now on.
sink_start() {
	local n=${1:-sink}
	rm -f "$tmp/$n.port"
	"$build/autotrace-receiver" --sink --port 0 --port-file "$tmp/$n.port" \
		>"$tmp/$n.out" 2>"$tmp/$n.err" &
	sink_pid=$!
	wait_file "$tmp/$n.port"
	export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$(cat "$tmp/$n.port")
}

# sink_stop [NAME PID]: stop the sink (the last started unless told); print
# the spans it counted.
sink_stop() {
	local rc=0 n=${1:-sink} pid=${2:-$sink_pid}
	local i=0
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	# Called in $(...), the sink is not the subshell's child: wait
	# returns at once, before the sink wrote its count; wait for it to be
	# gone (10 s at most).
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 1000 ]; do
		sleep 0.01
		i=$((i + 1))
	done
	grep -q '^sink ' "$tmp/$n.out" ||
		echo "bench: the sink ended with status $rc: $(cat "$tmp/$n.err")" >&2
	sed -n 's/^sink requests=[0-9]* spans=\([0-9]*\)$/\1/p' "$tmp/$n.out"
}

# rss_kib PID: resident set size of a process.
rss_kib() {
	awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# pair_fig OP A B [COLUMN]: one figure per bare/traced pair, line i of
# file A with line i of file B (alternate() ran them one after the other):
# OP diff prints A - B, ratio A / B.
pair_fig() {
	paste -d' ' <(awk -v c="${4:-1}" '{print $c}' "$2") <(awk -v c="${4:-1}" '{print $c}' "$3") |
		awk -v op="$1" 'NF == 2 && (op == "diff" || $2 != 0) {
			printf "%.6g\n", op == "diff" ? $1 - $2 : $1 / $2 }'
}

# spread FILE [COLUMN]: "smallest..largest" of a column of FILE.
spread() {
	awk -v c="${2:-1}" '{print $c}' "$1" | sort -g | sed -n '1h;${H;x;s/\n/../;p}'
}

# cpu_ns PID: CPU time of all of a process's live threads, in ns (the
# scheduler's own account, /proc/PID/task/*/schedstat: finer than the
# 10 ms ticks of /proc/PID/stat).
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}

# delta A B: A - B with its sign.
delta() {
	awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.4g\n", a - b}' </dev/null
}

# json_put KEY VALUE UNIT: one member of build/bench.json.
json_put() {
	printf '"%s": {"value": %s, "unit": "%s"}\n' "$1" "${2:-null}" "$3" >>"$tmp/json"
}

# json_get KEY: a value put before (bench_core's and bench_hooks' too).
json_get() {
	grep -F "\"$1\": " "$tmp/json" | sed -n 's/.*"value": \([^,]*\),.*/\1/p' | head -1
}

# row WHAT FIGURE TARGET: one line of the summary table.
row() {
	printf '| %s | %s | %s |\n' "$1" "$2" "$3" >>"$tmp/table"
}

# say FORMAT ARGS...: a result line on the terminal.
say() {
	# shellcheck disable=SC2059
	printf "  $1\n" "${@:2}"
}
