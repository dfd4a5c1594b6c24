# Scenario ctx_node, context in Node.js (issue 15): the context tests'
# front service (tests/fixtures/ctx/node_front.js, an `http` server that
# makes an http.request through a keep-alive agent and a fetch to a bare
# backend per request; also pg and ioredis calls when AT_PG_PORT and
# AT_REDIS_PORT name servers, as under scripts/run-integration.sh), no
# pauses, driven by a bare Node client with 20 requests in flight, in
# four modes:
#   bare      no tracing;
#   nobridge  under libautotrace with AUTOTRACE_RUNTIME_BRIDGES=false
#             (spans, but parents by the native rules only);
#   ours      under libautotrace with its Node bridge;
#   sdk       the OpenTelemetry JS SDK (NodeSDK + the http
#             instrumentation, tests/bench/node/otel-sdk.js; fetch, pg and
#             ioredis get no span from it).
# Per request: latency (the client's mean), CPU of the front service
# (utime + stime over the loop, /proc/PID/stat), spans at the sink.  The
# bridge's own cost is ours - nobridge (goal: at most 2 us per request).
#
#   scripts/bench.sh build ctx_node    (not in the default list)

ctx_node_fix=tests/fixtures/ctx

# ctx_node_run MODE -> us per request, CPU us per request, spans/request.
ctx_node_run() {
	local mode=$1 n=$ctx_node_n warm=300 pre="" back bport front t0 t1 lat spans
	local -a pfx=(env) req=()
	sink_start
	AT_CTX_NO_PAUSE=1 start_server "$tmp/ctxb.port" "" \
		node "$ctx_node_fix/node_back.js" "$tmp/ctxb.port"
	back=$server_pid
	bport=$server_port
	case $mode in
	ours) pre=$lib ;;
	nobridge) pre=$lib pfx+=(AUTOTRACE_RUNTIME_BRIDGES=false) ;;
	sdk) req=(--require ./tests/bench/node/otel-sdk.js) ;;
	esac
	AT_CTX_NO_PAUSE=1 NODE_PATH=$ctx_node_path OTEL_SERVICE_NAME=front \
		OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none \
		start_server "$tmp/ctxf.port" "$pre" "${pfx[@]}" node "${req[@]}" \
		"$ctx_node_fix/node_front.js" http "$tmp/ctxf.port" "$bport"
	front=$server_pid
	node "$ctx_node_fix/node_drive.js" "$server_port" $warm 20 >/dev/null
	t0=$(cpu_ticks "$front")
	lat=$(node "$ctx_node_fix/node_drive.js" "$server_port" "$n" 20 stats 2>&1 >/dev/null |
		sed -n 's/.*latency_us=\([0-9.]*\).*/\1/p')
	t1=$(cpu_ticks "$front")
	stop "$front"
	stop "$back"
	spans=$(sink_stop)
	echo "${lat:-0}" \
		"$(calc '(t1 - t0) * 1e6 / hz / n' t1="$t1" t0="$t0" hz="$(getconf CLK_TCK)" n="$n")" \
		"$(calc 's / (n + w)' s="${spans:-0}" n="$n" w="$warm")"
}

bench_ctx_node() {
	local modes="bare nobridge ours sdk" m what
	local -A L C S
	ctx_node_n=${BENCH_CTX_NODE_REQUESTS:-3000}
	what="http.request + fetch"
	[ -n "${AT_PG_PORT:-}" ] && what="$what + pg"
	[ -n "${AT_REDIS_PORT:-}" ] && what="$what + ioredis"
	echo "== ctx_node. a Node.js service ($what per request), $ctx_node_n requests 20 in flight: bare, libautotrace without and with its bridge, the OpenTelemetry JS SDK ($reps runs each, alternating, medians)"
	if ! command -v node >/dev/null; then
		say "node not found: skipped"
		return
	fi
	if ! scripts/setup-wire-node.sh "$build" >/dev/null; then
		say "npm could not install the test's Node packages: skipped"
		return
	fi
	ctx_node_path=$(realpath "$build/wire-node/node_modules")
	if declare -F node_deps >/dev/null || . scripts/bench/node.sh; then
		if node_deps; then
			ctx_node_path=$ctx_node_path:$(realpath "$build/bench-node/node_modules")
		else
			say "npm could not install the OpenTelemetry JS SDK: its mode is skipped"
			modes="bare nobridge ours"
		fi
	fi
	# shellcheck disable=SC2086
	alternate ctx_node_run $modes
	for m in $modes; do
		L[$m]=$(median "$tmp/ctx_node_run.$m" 1)
		C[$m]=$(median "$tmp/ctx_node_run.$m" 2)
		S[$m]=$(median "$tmp/ctx_node_run.$m" 3)
		json_put "ctx_node $m, latency" "${L[$m]}" "us/request"
		json_put "ctx_node $m, CPU" "${C[$m]}" "us/request"
		json_put "ctx_node $m, spans received" "${S[$m]}" "spans/request"
	done
	say "%-8s %9s %9s %14s %14s %s" mode "us/req" "CPU us" "added us/req" "added CPU us" "spans/req at the sink"
	for m in $modes; do
		say "%-8s %9.1f %9.1f %14.1f %14.1f %s" "$m" "${L[$m]}" "${C[$m]}" \
			"$(calc 'a - b' a="${L[$m]}" b="${L[bare]}")" "$(calc 'a - b' a="${C[$m]}" b="${C[bare]}")" "${S[$m]}"
	done
	json_put "ctx_node bridge, added latency" "$(calc 'a - b' a="${L[ours]}" b="${L[nobridge]}")" "us/request"
	json_put "ctx_node bridge, added CPU" "$(calc 'a - b' a="${C[ours]}" b="${C[nobridge]}")" "us/request"
	say "the bridge itself (ours - nobridge): latency %s us, CPU %s us per request (goal ≤ 2)" \
		"$(delta "${L[ours]}" "${L[nobridge]}")" "$(delta "${C[ours]}" "${C[nobridge]}")"
	row "Node.js service, 20 in flight ($what), bare" "${L[bare]} us, ${C[bare]} us CPU per request" "-"
	row "... under libautotrace, bridge off" \
		"$(delta "${L[nobridge]}" "${L[bare]}") us, $(delta "${C[nobridge]}" "${C[bare]}") us CPU per request; ${S[nobridge]} spans/request" "-"
	row "... under libautotrace with its Node bridge" \
		"$(delta "${L[ours]}" "${L[bare]}") us, $(delta "${C[ours]}" "${C[bare]}") us CPU per request; ${S[ours]} spans/request" "-"
	row "... the bridge itself (with - without)" \
		"$(delta "${L[ours]}" "${L[nobridge]}") us, $(delta "${C[ours]}" "${C[nobridge]}") us CPU per request" "≤ 2 us"
	# What Node itself charges for carrying a store across awaits.
	local als
	als=$(node "$ctx_node_fix/node_als_cost.js")
	say "Node %s: %s" "$(node --version)" "$als"
	json_put "node AsyncLocalStorage, CPU per awaited call" \
		"$(calc 'a - p' a="$(echo "$als" | sed 's/.*als_promise_ns=\([0-9]*\).*/\1/')" \
			p="$(echo "$als" | sed 's/.*plain_promise_ns=\([0-9]*\).*/\1/')")" "ns"
	[ -n "${L[sdk]:-}" ] || return 0
	row "... under the OpenTelemetry JS SDK (http instrumentation only)" \
		"$(delta "${L[sdk]}" "${L[bare]}") us, $(delta "${C[sdk]}" "${C[bare]}") us CPU per request; ${S[sdk]} spans/request" "-"
}
