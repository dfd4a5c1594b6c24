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
# (its threads' time on a CPU over the loop, cpu_ns), spans at the sink; also
# nobridge and ours at 1 in flight.  The bridge's own cost is ours -
# nobridge (goal: at most 2 us per request), shown as the median of the
# runs' differences with the smallest and largest.  As a service's CPU
# per request is a thousand times that (and system calls dominate it),
# the bridge's cost is also computed, as ctx_py does: what it pays for
# per request (promises made and reactions, as awaited calls; request
# heads; calls into its wrappers), counted in one more run
# (tests/fixtures/ctx/node_count.js), times what each costs
# (node_als_cost.js: each event measured 5 times in a process, the
# smallest kept; plain and under the bridge in alternate processes,
# BENCH_CTX_NODE_COST_REPS rounds, 41 unless told: a round is about 1 s,
# and one round differs from the next by up to 9 times), with its spread and
# a verdict against the budget (scripts/bench/budgets.sh: ctx_node, judged
# on the rounds' computed figures).
#
#   scripts/bench.sh build ctx_node    (not in the default list)

ctx_node_fix=tests/fixtures/ctx

# ctx_node_run MODE -> us per request, CPU us per request, spans/request
# (MODE ours1/nobridge1: at 1 in flight; count: ours with node_count.js).
ctx_node_run() {
	local mode=$1 n=$ctx_node_n warm=300 inflight=20 pre="" back bport front t0 t1 lat spans
	local -a pfx=(env) req=()
	case $mode in
	*1) mode=${mode%1} inflight=1 n=$ctx_node_n1 warm=30 ;;
	esac
	sink_start
	AT_CTX_NO_PAUSE=1 start_server "$tmp/ctxb.port" "" \
		node "$ctx_node_fix/node_back.js" "$tmp/ctxb.port"
	back=$server_pid
	bport=$server_port
	case $mode in
	ours) pre=$lib ;;
	nobridge) pre=$lib pfx+=(AUTOTRACE_RUNTIME_BRIDGES=false) ;;
	sdk) req=(--require ./tests/bench/node/otel-sdk.js) ;;
	count) pre=$lib req=(--require "./$ctx_node_fix/node_count.js") ;;
	esac
	AT_CTX_NO_PAUSE=1 NODE_PATH=$ctx_node_path OTEL_SERVICE_NAME=front \
		OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none \
		start_server "$tmp/ctxf.port" "$pre" "${pfx[@]}" node "${req[@]}" \
		"$ctx_node_fix/node_front.js" http "$tmp/ctxf.port" "$bport"
	front=$server_pid
	node "$ctx_node_fix/node_drive.js" "$server_port" $warm $inflight >/dev/null
	t0=$(cpu_ns "$front")
	lat=$(node "$ctx_node_fix/node_drive.js" "$server_port" "$n" $inflight stats 2>&1 >/dev/null |
		sed -n 's/.*latency_us=\([0-9.]*\).*/\1/p')
	t1=$(cpu_ns "$front")
	stop "$front"
	stop "$back"
	spans=$(sink_stop)
	echo "${lat:-0}" \
		"$(calc '(t1 - t0) / 1000 / n' t1="$t1" t0="$t0" n="$n")" \
		"$(calc 's / (n + w)' s="${spans:-0}" n="$n" w="$warm")"
}

# ctx_node_correct MODE (ours, nobridge or sdk): 200 requests at 20 in
# flight exported to a decoding receiver; prints scripts/bench/
# ctx_parents.py's lines (client spans under their own request or not).
ctx_node_correct() {
	local mode=$1 rx back pre=""
	local -a pfx=(env) req=()
	rm -f "$tmp/ctxc.port"
	"$build/autotrace-receiver" --port 0 --port-file "$tmp/ctxc.port" \
		>"$tmp/ctxc.spans" 2>/dev/null &
	rx=$!
	wait_file "$tmp/ctxc.port"
	AT_CTX_NO_PAUSE=1 start_server "$tmp/ctxb.port" "" \
		node "$ctx_node_fix/node_back.js" "$tmp/ctxb.port"
	back=$server_pid
	case $mode in
	ours) pre=$lib ;;
	nobridge) pre=$lib pfx+=(AUTOTRACE_RUNTIME_BRIDGES=false) ;;
	sdk) req=(--require ./tests/bench/node/otel-sdk.js) ;;
	esac
	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$(cat "$tmp/ctxc.port") \
	OTEL_BSP_SCHEDULE_DELAY=200 AT_CTX_NO_PAUSE=1 NODE_PATH=$ctx_node_path \
	OTEL_SERVICE_NAME=front OTEL_METRICS_EXPORTER=none OTEL_LOGS_EXPORTER=none \
		start_server "$tmp/ctxf.port" "$pre" "${pfx[@]}" node "${req[@]}" \
		"$ctx_node_fix/node_front.js" http "$tmp/ctxf.port" "$server_port"
	node "$ctx_node_fix/node_drive.js" "$server_port" 200 20 >/dev/null
	stop "$server_pid"
	stop "$back"
	kill -TERM "$rx" 2>/dev/null || true
	wait "$rx" 2>/dev/null || true
	python3 scripts/bench/ctx_parents.py <"$tmp/ctxc.spans"
}

bench_ctx_node() {
	local modes="bare nobridge ours sdk" m what
	local -A L C S
	ctx_node_n=${BENCH_CTX_NODE_REQUESTS:-3000}
	ctx_node_n1=${BENCH_CTX_NODE_REQUESTS_1:-600}
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
	ctx_node_spread "$tmp/ctx_node_run.ours" "$tmp/ctx_node_run.nobridge" 2
	say "the bridge itself, end to end (ours - nobridge, each run's difference): CPU %s us per request at 20 in flight" "$spread"
	# At 1 in flight.
	alternate ctx_node_run nobridge1 ours1
	ctx_node_spread "$tmp/ctx_node_run.ours1" "$tmp/ctx_node_run.nobridge1" 2
	say "at 1 in flight ($ctx_node_n1 requests): nobridge %s us, ours %s us CPU per request; the bridge %s us" \
		"$(median "$tmp/ctx_node_run.nobridge1" 2)" "$(median "$tmp/ctx_node_run.ours1" 2)" "$spread"
	json_put "ctx_node bridge at 1 in flight, added CPU" "$mid" "us/request"
	ctx_node_computed
	# Correctness, the other half of the comparison: client spans under
	# the request that made them (200 requests, 20 in flight).
	local cm c
	for cm in $modes; do
		[ "$cm" = bare ] && continue
		c=$(ctx_node_correct "$cm" | tr '\n' ' ')
		say "parents, $cm: $c"
		row "... client spans under their own request, $cm (200 requests, 20 in flight)" \
			"$(echo "$c" | sed 's/ spans=[0-9]*//g; s/ *$//')" "all right, none wrong"
	done
	[ -n "${L[sdk]:-}" ] || return 0
	row "... under the OpenTelemetry JS SDK (http instrumentation only)" \
		"$(delta "${L[sdk]}" "${L[bare]}") us, $(delta "${C[sdk]}" "${C[bare]}") us CPU per request; ${S[sdk]} spans/request" "-"
}

# ctx_node_spread A B COLUMN: the runs' differences A - B (run i of A
# with run i of B: they alternated); sets mid (median), spread
# ("median [smallest..largest]").
ctx_node_spread() {
	local d
	d=$(paste -d' ' <(awk -v c="$3" '{print $c}' "$1") <(awk -v c="$3" '{print $c}' "$2") |
		awk '{print $1 - $2}' | sort -g)
	mid=$(echo "$d" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
	spread="$mid [$(echo "$d" | head -1)..$(echo "$d" | tail -1)]"
}

# ctx_node_computed: the bridge's CPU per request computed (see the top).
ctx_node_computed() {
	local m i k cost
	local -a costs=()
	server_stderr=$tmp/ctx_node.count ctx_node_run count >/dev/null
	local cnt
	cnt=$(grep '^count ' "$tmp/ctx_node.count" 2>/dev/null || true)
	if [ -z "$cnt" ]; then
		say "the count run wrote nothing: the computed cost is skipped"
		return 0
	fi
	local -A N
	for k in requests inits reactions wrapped; do
		N[$k]=$(echo "$cnt" | sed -n "s/.*\b$k=\([0-9]*\).*/\1/p")
	done
	# Per event: each round runs plain, under the bridge, and with
	# AsyncLocalStorage, in separate processes, one after the other.
	for m in plain bridge als; do : >"$tmp/ctx_node.cost.$m"; done
	for i in $(seq 1 "${BENCH_CTX_NODE_COST_REPS:-41}"); do
		node "$ctx_node_fix/node_als_cost.js" >>"$tmp/ctx_node.cost.plain"
		LD_PRELOAD=$lib OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9 \
			node "$ctx_node_fix/node_als_cost.js" >>"$tmp/ctx_node.cost.bridge"
		node "$ctx_node_fix/node_als_cost.js" als >>"$tmp/ctx_node.cost.als"
	done
	# Each round's cost per request, from that round's figures: the
	# promises as awaited calls (an awaited call makes four and runs two
	# reactions; the larger of the two counts), the request head, the
	# wrappers as switching the store (an upper bound: most pass on).
	mapfile -t costs < <(paste -d' ' "$tmp/ctx_node.cost.plain" "$tmp/ctx_node.cost.bridge" |
		sed 's/[a-z]*=//g' | awk -v r="${N[requests]}" -v ni="${N[inits]}" \
			-v nr="${N[reactions]}" -v nw="${N[wrapped]}" '{
			# plain: $2 promise $3 await $4 emit $5 event; bridge: $7..$10
			ca = $8 - $3; ce = $9 - $4; cw = $10 - $5
			if (ca < 0) ca = 0; if (ce < 0) ce = 0; if (cw < 0) cw = 0
			eq = ni / 4 > nr / 2 ? ni / 4 : nr / 2
			printf "%.3f %.1f %.1f %.1f\n", (eq * ca + nw * cw) / r / 1000 + ce / 1000, ca, ce, cw
		}' | sort -g)
	local n=${#costs[@]} med lo hi within
	med=$(echo "${costs[$((n / 2))]}" | cut -d' ' -f1)
	within=$(printf '%s\n' "${costs[@]}" | awk '$1 <= 2' | wc -l)
	lo=$(echo "${costs[0]}" | cut -d' ' -f1)
	hi=$(echo "${costs[$((n - 1))]}" | cut -d' ' -f1)
	say "per request (counted over %s requests at 20 in flight): %s promises made, %s reactions, %s calls into the bridge's wrappers" \
		"${N[requests]}" "$(calc 'a / r' a="${N[inits]}" r="${N[requests]}")" \
		"$(calc 'a / r' a="${N[reactions]}" r="${N[requests]}")" "$(calc 'a / r' a="${N[wrapped]}" r="${N[requests]}")"
	say "per event, ns (median round: awaited call, request head, wrapper switching the store): %s" "$(echo "${costs[$((n / 2))]}" | cut -d' ' -f2-)"
	say "Node %s, ns per event, medians of %s rounds: plain %s; bridge %s; AsyncLocalStorage %s" "$(node --version)" "$n" \
		"$(ctx_node_medians plain)" "$(ctx_node_medians bridge)" "$(ctx_node_medians als)"
	if awk -v h="$hi" 'BEGIN {exit !(h <= 2)}'; then
		cost="within the budget"
	elif awk -v m="$med" 'BEGIN {exit !(m <= 2)}'; then
		cost="within the budget at the median, not at the largest"
	else
		cost="over the budget by $(calc 'm - 2' m="$med") us"
	fi
	say "the bridge, computed: %s us CPU per request [%s..%s over %s rounds, %s of them ≤ 2 us]: %s (≤ 2 us)" \
		"$med" "$lo" "$hi" "$n" "$within" "$cost"
	json_put "ctx_node bridge, computed CPU" "$med" "us/request"
	printf '%s\n' "${costs[@]}" | cut -d' ' -f1 >"$tmp/ctx_node.computed"
	judge ctx_node "$tmp/ctx_node.computed"
	row "... the bridge itself, computed (events per request x ns per event)" "$med us CPU per request [$lo..$hi], $within of $n rounds ≤ 2 us" "≤ 2 us"
}

# ctx_node_medians MODE: "event=median ..." over the cost rounds of MODE.
ctx_node_medians() {
	local e out="" col=2
	sed 's/[a-z]*=//g' "$tmp/ctx_node.cost.$1" >"$tmp/ctx_node.cost.n"
	for e in promise await emit event; do
		out="$out $e=$(median "$tmp/ctx_node.cost.n" "$col")"
		col=$((col + 1))
	done
	echo "${out# }"
}
