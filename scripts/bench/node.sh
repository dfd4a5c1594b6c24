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
# the spans it gets.
#
# How (the same method as the client/server loops, scripts/bench/
# interleave.py): the three pairs of services are up at once, on the
# servers' core, each warmed up first with BENCH_NODE_WARM (10000)
# requests at 20 in flight (V8 goes on optimizing for thousands of
# requests: bare, ~220 functions compiled by TurboFan, the last of them
# after 8000 requests; under callgrind, after 2000 requests, TurboFan's
# background compiles still took more instructions than the services'
# main threads, and their CPU per request still fell); then at each
# level of requests in flight (1, then 20) a load per mode (ctx_load --chunks, keep-alive
# connections that stay up, each answer checked, on the clients' core)
# takes turns with the others, one chunk of requests each (bare ours sdk,
# then sdk ours bare, ...), BENCH_CHUNK_PAIRS rounds after a warm-up
# round.  Per chunk: latency (its time x in flight / requests) and CPU
# (both services' threads since the end of that mode's previous chunk,
# /proc/PID/task/*/schedstat, so that work between chunks - an exporter's
# - is counted).  The budgets (CPU added <= 10 us, and <= 1/20 of the
# SDK's) are judged on each round's figures: ours - bare, and (ours -
# bare) / (sdk - bare), of the same round.  Fresh processes per round
# (the method before) gave rounds from 15 to 150 us apart at 1 in flight:
# a process's CPU per request differed from the next one's by more than
# the budget.
#   BENCH_NODE_CHUNK_1 (1000) requests per chunk at 1 in flight,
#   BENCH_NODE_CHUNK (2000) at 20 in flight (with chunks of 200 and 600 the
#   rounds' figures spread over +-80 us: a garbage collection or a late
#   compile in a chunk moves its CPU per request by tens of us).

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

# node_service MODE NAME PORTFILE [DOWNSTREAM_PORT]: start one service on
# the servers' core; sets server_pid and server_port.
node_service() {
	local mode=$1 name=$2
	shift 2
	local pre="" init=$node_dir/exit-on-term.js
	[ "$mode" = ours ] && pre=$lib
	[ "$mode" = sdk ] && init=$node_dir/otel-sdk.js
	# shellcheck disable=SC2086
	OTEL_SERVICE_NAME=$name NODE_PATH=$(realpath "$build/bench-node/node_modules") \
		OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none \
		start_server "$1" "$pre" $server_pin node --require "./$init" "$node_dir/service.js" "$@"
}

# node_levels MODES: the three pairs of services up at once (each tracing
# mode with a sink of its own), warmed up, then interleaved chunks at 1 in
# flight and at 20: $tmp/node@K.MODE gets "latency-us cpu-us bad" per
# round, and $tmp/node_spans.MODE the spans per request its sink got.
node_levels() {
	local k m n load=$build/fixtures/ctx/ctx_load warm=${BENCH_NODE_WARM:-10000} done=0
	local -A front back port sink
	local -a sides
	for m in "$@"; do
		sink[$m]=""
		if [ "$m" != bare ]; then
			sink_start "sink.$m"
			sink[$m]=$sink_pid
		fi
		node_service "$m" backend "$tmp/back.$m.port"
		back[$m]=$server_pid
		node_service "$m" frontend "$tmp/front.$m.port" "$server_port"
		front[$m]=$server_pid port[$m]=$server_port
		$client_pin "$load" 127.0.0.1 "$server_port" --conc 20 --count "$warm" >/dev/null || true
	done
	for k in 1 20; do
		n=$node_n
		[ "$k" = 1 ] && n=$node_n1
		sides=()
		for m in "$@"; do
			sides+=(--side "$m" "exec $load 127.0.0.1 ${port[$m]} --conc $k --count $n --chunks --cpu-of ${front[$m]},${back[$m]}")
		done
		/usr/bin/python3 scripts/bench/interleave.py --pairs "$chunk_pairs" \
			--out "$tmp/node@$k" ${client_cpu:+--cpu "$client_cpu"} "${sides[@]}" ||
			say "the Node loads at $k in flight failed: the figures are incomplete"
		done=$((done + n * (chunk_pairs + 1)))
	done
	for m in "$@"; do
		stop "${front[$m]}"
		stop "${back[$m]}"
		[ -n "${sink[$m]}" ] || { echo 0 >"$tmp/node_spans.$m"; continue; }
		calc 's / r' s="$(sink_stop "sink.$m" "${sink[$m]}")" r="$((warm + done))" >"$tmp/node_spans.$m"
	done
}

# node_report INFLIGHT MODES: the figures at INFLIGHT, and the verdicts.
node_report() {
	local k=$1 m f
	shift
	local -A L C S
	for m in "$@"; do
		f=$tmp/node@$k.$m
		L[$m]=$(median "$f" 1)
		C[$m]=$(median "$f" 2)
		S[$m]=$(cat "$tmp/node_spans.$m")
		json_put "node $m $k in flight, latency" "${L[$m]}" "us/request"
		json_put "node $m $k in flight, CPU" "${C[$m]}" "us/request"
		json_put "node $m $k in flight, spans received" "${S[$m]}" "spans/request"
		[ "$(awk '{s += $3} END {print s + 0}' "$f")" = 0 ] ||
			say "bench: node $m at $k in flight: some answers were wrong (ctx_load bad=)"
	done
	say "%d in flight (medians of %d rounds):" "$k" "$(wc -l <"$tmp/node@$k.bare")"
	say "%-5s %9s %9s %14s %22s %s" mode "us/req" "CPU us" "added us/req" "added CPU us [spread]" "spans/req at the sink"
	for m in "$@"; do
		f=$tmp/node.added.$m@$k
		pair_fig diff "$tmp/node@$k.$m" "$tmp/node@$k.bare" 2 >"$f"
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
	local modes="bare ours sdk" k
	node_n=${BENCH_NODE_CHUNK:-2000}
	node_n1=${BENCH_NODE_CHUNK_1:-1000}
	echo "== 6. two Node.js services (frontend -> backend): bare, under libautotrace, under the OpenTelemetry JS SDK, up at once and interleaved; chunks of $node_n1 requests 1 in flight and $node_n requests 20 in flight ($chunk_pairs rounds each)"
	if ! command -v node >/dev/null; then
		say "node not found: skipped"
		return
	fi
	if ! node_deps; then
		say "npm could not install the OpenTelemetry JS SDK: its mode is skipped"
		modes="bare ours"
	fi
	# shellcheck disable=SC2086
	node_levels $modes
	for k in 1 20; do
		# shellcheck disable=SC2086
		node_report $k $modes
	done
}
