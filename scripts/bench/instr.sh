#!/usr/bin/env bash
# make bench-instr: what the library costs, in instructions (valgrind
# --tool=callgrind counts every instruction a process runs in user space),
# so that the figures do not move with the machine's load: a regression
# shows on a busy machine as well as on an idle one.
#
#   scripts/bench/instr.sh [BUILD [GROUP...]]
#
# Groups (all by default): core (spans, exporter, traceparent), calls
# (hooks without span), pair (C keep-alive pair), curl.
#
# Method: every figure is a difference of two runs of the same program,
# with N and with 2N operations: (total(2N) - total(N)) / N, so start-up,
# warm-up and exit cancel out.  Bare against traced figures are two such
# differences, the second run with the library preloaded.
#   sampled span      build/bench/bench_instr sampled (the connect span of
#                     bench_core: start, 6 attributes, end, enqueue)
#   unsampled span    bench_instr unsampled
#   exported span     bench_instr export (made, encoded, POSTed to a sink
#                     in another process) minus the sampled span
#   traceparent format / parse
#   hooked call, no span   build/bench/bench_calls KIND, preloaded - bare,
#                     per hooked call (close, getsockopt, regular file,
#                     pipe, TCP without HTTP)
#   C keep-alive pair http_client against http_service --sequential, both
#                     under callgrind, both traced - both bare, client +
#                     server instructions per request (the exporter
#                     threads' encoding included: the spans are flushed at
#                     exit)
#   curl_easy_perform curl_easy_client, one handle, traced - bare per
#                     transfer (the client only; the server runs bare);
#                     libcurl's own count moves by +-0.7 k or more per
#                     transfer from run to run (its poll/recv loop under
#                     valgrind), bare as much as traced, so this figure
#                     moves by thousands: compare curl_lib, the library's
#                     own code per transfer in the traced runs (the
#                     exporter thread's included; the curl_easy_getinfo
#                     calls the library makes, about 0.7 k in libcurl, not),
#                     which repeats within a few tens
# System calls are not instructions of the process: the figures count the
# library's own work, not the kernel's.  Under valgrind clock_gettime is a
# system call rather than the vDSO, so a clock read counts a few
# instructions instead of about 30.  No conversion to time is made; as a
# rough guide, this code runs at 2 to 4 instructions per ns on a current
# x86 core when its data are in cache.
#
# Baseline: tests/bench/instr-baseline.txt ("KEY instructions" lines).
# A figure more than 10 % above its baseline prints a "regression" line,
# more than 10 % below an "improved" line; BENCH_INSTR_UPDATE=1 rewrites
# the baseline with this run's figures.  Writes BUILD/bench-instr.json.
# Never fails on the figures (exit 0 unless valgrind or a program is
# missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
[ $# -gt 0 ] && shift
groups=" ${*:-core calls pair curl} "
lib=$(realpath "$build/libautotrace.so")
baseline=tests/bench/instr-baseline.txt
tmp=$(mktemp -d)
trap 'trap - ERR; jobs -p | xargs -r kill 2>/dev/null || true; rm -rf "$tmp"' EXIT
reps=1
. scripts/bench/lib.sh

if ! command -v valgrind >/dev/null; then
	echo "bench-instr: valgrind not found (Debian's valgrind; scripts/install-deps.sh installs it)" >&2
	exit 1
fi

: >"$tmp/figures"

# cg_total OUT CMD...: run CMD under callgrind (its output discarded);
# print the instructions it ran.
cg_total() {
	local out=$1
	shift
	valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>"$out.err" ||
		{ echo "bench-instr: failed: $* (see below)" >&2; tail -5 "$out.err" >&2; return 1; }
	sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out" | head -1
}

# per_op N FUNCTION ARGS...: (instructions of FUNCTION ARGS 2N - of
# FUNCTION ARGS N) / N; FUNCTION gets N as its last argument and prints
# the instructions of one run.
per_op() {
	local n=$1 a b
	shift
	a=$("$@" "$n")
	b=$("$@" $((2 * n)))
	calc '(b - a) / n' a="$a" b="$b" n="$n"
}

# put KEY WHAT VALUE: one figure (instructions per operation).
put() {
	printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$tmp/figures"
	printf '  %-62s %8.0f instructions\n' "$2" "$3"
}

core_run() { # SECTION [PORT] N
	if [ $# = 3 ]; then
		cg_total "$tmp/cg.core" "$build/bench/bench_instr" "$1" "$3" "$2"
	else
		cg_total "$tmp/cg.core" "$build/bench/bench_instr" "$1" "$2"
	fi
}

calls_run() { # MODE KIND N
	LD_PRELOAD=$(preload "$1") cg_total "$tmp/cg.calls" "$build/bench/bench_calls" "$2" "$3"
}

# pair_run MODE N: client + server instructions for N keep-alive requests.
pair_run() {
	local pre s c
	pre=$(preload "$1")
	rm -f "$tmp/pair.port"
	LD_PRELOAD=$pre valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.server" \
		"$build/fixtures/http_service" "$tmp/pair.port" --sequential >/dev/null 2>"$tmp/cg.server.err" &
	local srv=$!
	wait_file "$tmp/pair.port" 120
	c=$(LD_PRELOAD=$pre cg_total "$tmp/cg.client" "$build/fixtures/http_client" --count "$2" \
		127.0.0.1 "$(cat "$tmp/pair.port")")
	stop "$srv"
	s=$(sed -n 's/^totals: \([0-9]*\).*/\1/p' "$tmp/cg.server" | head -1)
	echo $((c + s))
}

curl_run() { # MODE N (the profile kept as $tmp/cg.curl.MODE.N)
	local urls=()
	for _ in $(seq 1 "$2"); do urls+=("$curl_url"); done
	LD_PRELOAD=$(preload "$1") cg_total "$tmp/cg.curl.$1.$2" "$build/fixtures/curl_easy_client" "${urls[@]}"
}

# lib_self PROFILE: the instructions a profile counts in the library's own
# code (its functions' self cost: libautotrace.so, or a file of src/ or
# hooks/ inlined elsewhere), whatever thread ran them.
lib_self() {
	callgrind_annotate --threshold=100 --inclusive=no --auto=no "$1" 2>/dev/null |
		awk -v root="$PWD/" '
		/^ *[0-9,]+ \( *[0-9.]+%\) / {
			f = $0; sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", f); sub(root, "", f)
			if (f ~ /libautotrace\.so\]$/ || f ~ /^(src|hooks)\//) {
				v = $1; gsub(",", "", v); s += v } }
		END { print s + 0 }'
}

echo "== instruction counts (valgrind --tool=callgrind; (2N run - N run) / N)"
start=$(date +%s)
sink_start
port=$(cat "$tmp/sink.port")

if [[ $groups == *" core "* ]]; then
	s=$(per_op 4096 core_run sampled)
	put sampled_span "sampled span (start, 6 attributes, end, enqueue)" "$s"
	put unsampled_span "unsampled span" "$(per_op 8192 core_run unsampled)"
	e=$(per_op 4096 core_run export "$port")
	put exported_span "exporter, per span (encoded and sent, not made)" "$(calc 'e - s' e="$e" s="$s")"
	put traceparent_format "traceparent format" "$(per_op 8192 core_run format)"
	put traceparent_parse "traceparent parse" "$(per_op 8192 core_run parse)"
fi

[[ $groups == *" calls "* ]] && for kind in close getsockopt file pipe tcp; do
	calls=2
	case $kind in close | getsockopt) calls=1 ;; esac
	b=$(per_op 20000 calls_run bare "$kind")
	t=$(per_op 20000 calls_run traced "$kind")
	put "hook_$kind" "hook without span, $kind: added per call ($(calc 'b / c' b="$b" c=$calls) bare)" \
		"$(calc '(t - b) / c' t="$t" b="$b" c=$calls)"
done

n=${BENCH_INSTR_REQUESTS:-400}
if [[ $groups == *" pair "* ]]; then
	b=$(per_op "$n" pair_run bare)
	t=$(per_op "$n" pair_run traced)
	put pair_bare "C keep-alive pair, bare: client + server per request" "$b"
	put pair_added "C keep-alive pair, both traced: added per request" "$(calc 't - b' t="$t" b="$b")"
fi

if [[ $groups == *" curl "* ]]; then
	start_server "$tmp/curl.port" "" "$build/fixtures/http_service" "$tmp/curl.port" --sequential
	curl_url="http://127.0.0.1:$server_port/"
	b=$(per_op "$n" curl_run bare)
	t=$(per_op "$n" curl_run traced)
	stop "$server_pid"
	put curl_bare "curl_easy_perform keep-alive, bare: per transfer" "$b"
	put curl_added "curl_easy_perform keep-alive, traced: added per transfer" "$(calc 't - b' t="$t" b="$b")"
	put curl_lib "curl_easy_perform keep-alive: the library's own code per transfer" \
		"$(calc '(a - b) / n' a="$(lib_self "$tmp/cg.curl.traced.$((2 * n))")" \
			b="$(lib_self "$tmp/cg.curl.traced.$n")" n="$n")"
fi
spans=$(sink_stop)
echo "  (spans at the sink: ${spans:-?}; $(($(date +%s) - start)) s)"

# Against the baseline.
echo "== against $baseline (+-10 %)"
while IFS=$'\t' read -r key what v; do
	base=$(awk -v k="$key" '$1 == k {print $2}' "$baseline" 2>/dev/null || true)
	if [ "$key" = curl_added ]; then
		echo "  $key: not compared (libcurl's own count moves from run to run: curl_lib is)"
		continue
	fi
	if [ -z "$base" ]; then
		echo "  $key: no baseline"
		continue
	fi
	awk -v k="$key" -v v="$v" -v b="$base" 'BEGIN {
		d = b != 0 ? 100 * (v - b) / (b < 0 ? -b : b) : 0
		if (v > b * 1.1 && v - b > 5) printf "  regression %s: %.0f instructions, baseline %.0f (%+.1f %%)\n", k, v, b, d
		else if (v < b * 0.9 && b - v > 5) printf "  improved %s: %.0f instructions, baseline %.0f (%+.1f %%)\n", k, v, b, d
		else printf "  same %s: %.0f instructions, baseline %.0f (%+.1f %%)\n", k, v, b, d }'
done <"$tmp/figures"
if [ "${BENCH_INSTR_UPDATE:-0}" = 1 ]; then
	{
		echo "# scripts/bench/instr.sh's figures (instructions per operation), written"
		echo "# by BENCH_INSTR_UPDATE=1 make bench-instr at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
		awk -F'\t' '{printf "%s %.0f\n", $1, $3}' "$tmp/figures"
	} >"$baseline"
	echo "  wrote $baseline"
fi
{
	echo "{"
	awk -F'\t' 'NR > 1 {print ","} {printf "\"%s\": {\"what\": \"%s\", \"value\": %.0f, \"unit\": \"instructions\"}", $1, $2, $3}' "$tmp/figures"
	echo
	echo "}"
} >"$build/bench-instr.json"
echo "== wrote $build/bench-instr.json"
