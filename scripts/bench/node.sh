# Scenario 6, the peer comparison: two Node.js services (a frontend that
# calls a backend over a keep-alive agent and answers; no tracing code:
# tests/bench/node/service.js), driven by a bare C client (http_client:
# one keep-alive connection, requests one after the other), in three modes:
#   bare   no tracing;
#   sdk    the OpenTelemetry JS SDK's Node auto-instrumentation (NodeSDK +
#          the http instrumentation + the OTLP/HTTP protobuf exporter,
#          versions pinned in tests/bench/node/package.json, installed by
#          npm into BUILD/bench-node);
#   ours   both services under libautotrace (LD_PRELOAD on node).
# Both tracing modes export to a sink receiver of their own, which counts
# the spans it gets.  Per request: latency (the client's loop time / N)
# and CPU (utime + stime of both services over the loop, from
# /proc/PID/stat), and the overhead of each mode over bare.

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

# node_run MODE -> us per request, CPU us per request (both services),
# spans the sink got per request.
node_run() {
	local mode=$1 back front t0 t1 ns spans n=$node_n warm=500
	sink_start
	node_service "$mode" backend "$tmp/back.port"
	back=$server_pid
	node_service "$mode" frontend "$tmp/front.port" "$server_port"
	front=$server_pid
	"$build/fixtures/http_client" --count $warm 127.0.0.1 "$server_port" >/dev/null
	t0=$(($(cpu_ticks "$front") + $(cpu_ticks "$back")))
	ns=$("$build/fixtures/http_client" --stats --count "$n" 127.0.0.1 "$server_port" 2>&1 >/dev/null |
		sed -n 's/.*elapsed_ns=\([0-9]*\).*/\1/p')
	t1=$(($(cpu_ticks "$front") + $(cpu_ticks "$back")))
	stop "$front"
	stop "$back"
	spans=$(sink_stop)
	echo "$(calc 'ns / n / 1000' ns="${ns:-0}" n="$n")" \
		"$(calc '(t1 - t0) * 1e6 / hz / n' t1="$t1" t0="$t0" hz="$(getconf CLK_TCK)" n="$n")" \
		"$(calc 's / (n + w)' s="${spans:-0}" n="$n" w="$warm")"
}

bench_node() {
	local modes="bare ours sdk" m lat cpu spans
	node_n=${BENCH_NODE_REQUESTS:-4000}
	echo "== 6. two Node.js services (frontend -> backend), $node_n keep-alive requests: bare, under libautotrace, under the OpenTelemetry JS SDK ($reps runs each, alternating, medians)"
	if ! command -v node >/dev/null; then
		say "node not found: skipped"
		return
	fi
	if ! node_deps; then
		say "npm could not install the OpenTelemetry JS SDK: its mode is skipped"
		modes="bare ours"
	fi
	# shellcheck disable=SC2086
	alternate node_run $modes
	local -A L C S
	for m in $modes; do
		L[$m]=$(median "$tmp/node_run.$m" 1)
		C[$m]=$(median "$tmp/node_run.$m" 2)
		S[$m]=$(median "$tmp/node_run.$m" 3)
		json_put "node $m, latency" "${L[$m]}" "us/request"
		json_put "node $m, CPU" "${C[$m]}" "us/request"
		json_put "node $m, spans received" "${S[$m]}" "spans/request"
	done
	say "%-5s %9s %9s %14s %14s %s" mode "us/req" "CPU us" "added us/req" "added CPU us" "spans/req at the sink"
	for m in $modes; do
		say "%-5s %9.1f %9.1f %14.1f %14.1f %s" "$m" "${L[$m]}" "${C[$m]}" \
			"$(calc 'a - b' a="${L[$m]}" b="${L[bare]}")" "$(calc 'a - b' a="${C[$m]}" b="${C[bare]}")" "${S[$m]}"
	done
	for m in $modes; do
		[ "$m" = bare ] && continue
		json_put "node $m, added latency" "$(calc 'a - b' a="${L[$m]}" b="${L[bare]}")" "us/request"
		json_put "node $m, added CPU" "$(calc 'a - b' a="${C[$m]}" b="${C[bare]}")" "us/request"
	done
	row "Node.js frontend -> backend, bare" "${L[bare]} us, ${C[bare]} us CPU per request" "-"
	row "... under libautotrace (LD_PRELOAD)" \
		"$(delta "${L[ours]}" "${L[bare]}") us, $(delta "${C[ours]}" "${C[bare]}") us CPU per request; ${S[ours]} spans/request" "-"
	[ -n "${L[sdk]:-}" ] || return 0
	row "... under the OpenTelemetry JS SDK (sdk-node, http instrumentation, OTLP/proto)" \
		"$(delta "${L[sdk]}" "${L[bare]}") us, $(delta "${C[sdk]}" "${C[bare]}") us CPU per request; ${S[sdk]} spans/request" "-"
	lat=$(calc '(o - b) / (s - b)' o="${L[ours]}" s="${L[sdk]}" b="${L[bare]}")
	cpu=$(calc '(o - b) / (s - b)' o="${C[ours]}" s="${C[sdk]}" b="${C[bare]}")
	say "libautotrace's overhead / the SDK's: latency %s, CPU %s (goal ≤ 0.1)" "$lat" "$cpu"
	json_put "node overhead ratio ours/sdk, latency" "$lat" "ratio"
	json_put "node overhead ratio ours/sdk, CPU" "$cpu" "ratio"
	row "libautotrace's overhead / the SDK's" "latency $lat, CPU $cpu" "≤ 0.1"
}
