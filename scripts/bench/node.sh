# Scenario 6, the peer comparison: two Node.js services (a frontend that
# calls a backend over a keep-alive agent and answers; no tracing code:
# tests/bench/node/service.js), driven by a bare C load (tests/fixtures/
# ctx/ctx_load: keep-alive connections, each answer checked) at 1 request
# in flight and at 20, in three modes:
#   bare   no tracing;
#   sdk    the OpenTelemetry JS SDK's Node auto-instrumentation (NodeSDK +
#          the http instrumentation + the OTLP/HTTP protobuf exporter,
#          versions pinned in tests/bench/node/package.json, installed by
#          npm into BUILD/bench-node);
#   ours   both services under libautotrace (LD_PRELOAD on node).
# Both tracing modes export to a sink receiver of their own, which counts
# the spans it gets.  Per request: latency (the load's time x in flight /
# N) and CPU (both services' threads over the loop, from /proc/PID/task/
# */schedstat, in ns), and the overhead of each mode over bare.  A round
# runs bare, ours, sdk one after the other; the budgets (CPU added <= 10
# us, and <= 1/20 of the SDK's) are judged on the rounds' figures: ours -
# bare, and (ours - bare) / (sdk - bare), of the same round.
#   BENCH_NODE_REQUESTS (4000) requests per run at 20 in flight,
#   BENCH_NODE_REQUESTS_1 (1500) at 1 in flight; BENCH_NODE_ROUNDS (5) rounds.

node_dir=tests/bench/node

# node_deps: install the SDK into BUILD/bench-node (again when the pinned
# versions changed); 1 if npm could not.
node_deps() {
	local dest=$build/bench-node
	if cmp -s "$node_dir/package-lock.json" "$dest/package-lock.json" &&
		[ -d "$dest/node_modules/@opentelemetry/sdk-node" ]; then
		return 0
	fi
	mkdir -p "$dest"
	cp "$node_dir/package.json" "$node_dir/package-lock.json" "$dest/"
	echo "  npm ci (the OpenTelemetry JS SDK, into $dest)"
	(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>&1) ||
		{ rm -f "$dest/package-lock.json"; return 1; }
}

# node_service MODE NAME PORTFILE [DOWNSTREAM_PORT]: start one service;
# sets server_pid and server_port.
node_service() {
	local mode=$1 name=$2
	shift 2
	local pre="" init=$node_dir/exit-on-term.js
	[ "$mode" = ours ] && pre=$lib
	[ "$mode" = sdk ] && init=$node_dir/otel-sdk.js
	OTEL_SERVICE_NAME=$name NODE_PATH=$(realpath "$build/bench-node/node_modules") \
		OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none \
		start_server "$1" "$pre" node --require "./$init" "$node_dir/service.js" "$@"
}

# node_run MODE[@INFLIGHT] -> us per request, CPU us per request (both
# services), spans the sink got per request, wrong answers.
node_run() {
	local mode=${1%@*} inflight=${1#*@} back front c0 c1 out ns spans n warm=300
	n=$node_n
	[ "$inflight" = 1 ] && n=$node_n1 warm=100
	sink_start
	node_service "$mode" backend "$tmp/back.port"
	back=$server_pid
	node_service "$mode" frontend "$tmp/front.port" "$server_port"
	front=$server_pid
	"$build/fixtures/ctx/ctx_load" 127.0.0.1 "$server_port" --conc "$inflight" --count $warm >/dev/null || true
	c0=$(($(cpu_ns "$front") + $(cpu_ns "$back")))
	out=$("$build/fixtures/ctx/ctx_load" 127.0.0.1 "$server_port" --conc "$inflight" --count "$n" || true)
	c1=$(($(cpu_ns "$front") + $(cpu_ns "$back")))
	stop "$front"
	stop "$back"
	spans=$(sink_stop)
	ns=$(echo "$out" | sed -n 's/.*elapsed_ns=\([0-9]*\).*/\1/p')
	echo "$(calc 'ns * c / n / 1000' ns="${ns:-0}" c="$inflight" n="$n")" \
		"$(calc '(c1 - c0) / n / 1000' c1="$c1" c0="$c0" n="$n")" \
		"$(calc 's / (n + w)' s="${spans:-0}" n="$n" w="$warm")" \
		"$(echo "$out" | sed -n 's/.*bad=\([0-9]*\).*/\1/p')"
}

# node_report INFLIGHT MODES: the figures at INFLIGHT, and the verdicts.
node_report() {
	local k=$1 m f
	shift
	local -A L C S
	for m in "$@"; do
		f=$tmp/node_run.$m@$k
		L[$m]=$(median "$f" 1)
		C[$m]=$(median "$f" 2)
		S[$m]=$(median "$f" 3)
		json_put "node $m $k in flight, latency" "${L[$m]}" "us/request"
		json_put "node $m $k in flight, CPU" "${C[$m]}" "us/request"
		json_put "node $m $k in flight, spans received" "${S[$m]}" "spans/request"
		[ "$(awk '{s += $4} END {print s + 0}' "$f")" = 0 ] ||
			say "bench: node $m at $k in flight: some answers were wrong (ctx_load bad=)"
	done
	say "%d in flight (medians of %d rounds):" "$k" "$reps"
	say "%-5s %9s %9s %14s %22s %s" mode "us/req" "CPU us" "added us/req" "added CPU us [spread]" "spans/req at the sink"
	for m in "$@"; do
		f=$tmp/node.added.$m@$k
		pair_fig diff "$tmp/node_run.$m@$k" "$tmp/node_run.bare@$k" 2 >"$f"
		say "%-5s %9.1f %9.1f %14.1f %22s %s" "$m" "${L[$m]}" "${C[$m]}" \
			"$(calc 'a - b' a="${L[$m]}" b="${L[bare]}")" "$(median "$f") [$(spread "$f")]" "${S[$m]}"
		[ "$m" = bare ] && continue
		json_put "node $m $k in flight, added latency" "$(calc 'a - b' a="${L[$m]}" b="${L[bare]}")" "us/request"
		json_put "node $m $k in flight, added CPU" "$(median "$f")" "us/request"
	done
	row "Node.js frontend -> backend, $k in flight, bare" "${L[bare]} us, ${C[bare]} us CPU per request" "-"
	row "... under libautotrace (LD_PRELOAD), $k in flight" \
		"$(delta "${L[ours]}" "${L[bare]}") us, $(median "$tmp/node.added.ours@$k") us CPU [$(spread "$tmp/node.added.ours@$k")] per request; ${S[ours]} spans/request" "≤ 10 us CPU"
	judge "node_cpu_$k" "$tmp/node.added.ours@$k"
	[ -n "${L[sdk]:-}" ] || return 0
	row "... under the OpenTelemetry JS SDK (sdk-node, http instrumentation, OTLP/proto), $k in flight" \
		"$(delta "${L[sdk]}" "${L[bare]}") us, $(median "$tmp/node.added.sdk@$k") us CPU [$(spread "$tmp/node.added.sdk@$k")] per request; ${S[sdk]} spans/request" "-"
	paste -d' ' "$tmp/node.added.ours@$k" "$tmp/node.added.sdk@$k" |
		awk '$2 != 0 {printf "%.4g\n", $1 / $2}' >"$tmp/node.ratio@$k"
	say "libautotrace's added CPU / the SDK's, per round: %s [%s] (budget ≤ 0.05)" \
		"$(median "$tmp/node.ratio@$k")" "$(spread "$tmp/node.ratio@$k")"
	json_put "node overhead ratio ours/sdk $k in flight, CPU" "$(median "$tmp/node.ratio@$k")" "ratio"
	row "libautotrace's added CPU / the SDK's, $k in flight" \
		"$(median "$tmp/node.ratio@$k") [$(spread "$tmp/node.ratio@$k")]" "≤ 0.05"
	judge "node_ratio_$k" "$tmp/node.ratio@$k"
}

bench_node() {
	local modes="bare ours sdk" m k reps=${BENCH_NODE_ROUNDS:-5}
	node_n=${BENCH_NODE_REQUESTS:-4000}
	node_n1=${BENCH_NODE_REQUESTS_1:-1500}
	echo "== 6. two Node.js services (frontend -> backend): bare, under libautotrace, under the OpenTelemetry JS SDK; $node_n1 requests 1 in flight, $node_n requests 20 in flight ($reps rounds each, alternating)"
	if ! command -v node >/dev/null; then
		say "node not found: skipped"
		return
	fi
	if ! node_deps; then
		say "npm could not install the OpenTelemetry JS SDK: its mode is skipped"
		modes="bare ours"
	fi
	for k in 1 20; do
		# shellcheck disable=SC2046
		alternate node_run $(for m in $modes; do echo "$m@$k"; done)
		# shellcheck disable=SC2086
		node_report $k $modes
	done
}
