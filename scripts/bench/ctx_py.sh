# Scenario: context across Python's asyncio (issue 15).  An aiohttp
# front service (tests/fixtures/ctx/py_front.py, mode http: two GETs with
# aiohttp's client per request) calling a bare C backend (http_service
# --threads), driven with 20 requests in flight on keep-alive connections
# (tests/fixtures/ctx/py_drive.py, not traced), the front in three modes:
#   bare      no tracing;
#   traced    under libautotrace with the Python bridge;
#   nobridge  under libautotrace, AUTOTRACE_RUNTIME_BRIDGES=false (the
#             bridge's own share is traced - nobridge).
# Per request: the driver's mean latency, and the front's CPU (its
# threads' time on a CPU over the measured requests, cpu_ns).  On a busy
# machine those differ by more than the bridge costs, so its share is
# also computed: the asyncio callbacks the front runs per request (one
# more traced run, counting them) times what the bridge adds to one
# callback (tests/fixtures/ctx/py_bridge_cost.py: the wrapped
# Handle._run against the original in turns, thread CPU time, the
# fastest batch of each).

ctxpy_python=/usr/bin/python3

# ctxpy_run MODE -> mean latency us, front CPU us per request, spans the
# sink got per request.
ctxpy_run() {
	local mode=$1 pre="" back front t0 t1 mean spans n=$ctxpy_n warm=300
	local -a cmd=("$ctxpy_python" tests/fixtures/ctx/py_front.py "$tmp/ctxpy.front.port" http)
	[ "$mode" = bare ] || pre=$lib
	[ "$mode" = nobridge ] && cmd=(env AUTOTRACE_RUNTIME_BRIDGES=false "${cmd[@]}")
	[ "$mode" = count ] && cmd=(env PY_FRONT_COUNT="$tmp/ctxpy.count" "${cmd[@]}")
	sink_start
	start_server "$tmp/ctxpy.back.port" "" "$build/fixtures/http_service" \
		"$tmp/ctxpy.back.port" --threads
	back=$server_pid
	start_server "$tmp/ctxpy.front.port" "$pre" "${cmd[@]}" "$server_port"
	front=$server_pid
	"$ctxpy_python" tests/fixtures/ctx/py_drive.py "$server_port" $warm 20 >/dev/null
	t0=$(cpu_ns "$front")
	mean=$("$ctxpy_python" tests/fixtures/ctx/py_drive.py "$server_port" "$n" 20 --stats 2>&1 >/dev/null |
		sed -n 's/.*mean_us=\([0-9.]*\).*/\1/p')
	t1=$(cpu_ns "$front")
	stop "$front"
	stop "$back"
	spans=$(sink_stop)
	echo "${mean:-0}" \
		"$(calc '(t1 - t0) / 1000 / n' t1="$t1" t0="$t0" n="$n")" \
		"$(calc 's / (n + w)' s="${spans:-0}" n="$n" w="$warm")"
}

bench_ctx_py() {
	local modes="bare traced nobridge" m
	ctxpy_n=${BENCH_CTX_PY_REQUESTS:-3000}
	echo "== Python asyncio: aiohttp front (2 aiohttp client calls per request) -> C backend, 20 in flight, $ctxpy_n requests: bare, traced with the bridge, traced without ($reps runs each, alternating, medians)"
	if ! "$ctxpy_python" -c 'import aiohttp' 2>/dev/null; then
		say "$ctxpy_python has no aiohttp (Debian's python3-aiohttp): skipped"
		return
	fi
	# shellcheck disable=SC2086
	alternate ctxpy_run $modes
	local -A L C S
	say "%-8s %9s %9s %14s %14s %s" mode "us/req" "CPU us" "added us/req" "added CPU us" "spans/req at the sink"
	for m in $modes; do
		read -r L[$m] C[$m] S[$m] <<<"$(median "$tmp/ctxpy_run.$m" 1) $(median "$tmp/ctxpy_run.$m" 2) $(median "$tmp/ctxpy_run.$m" 3)"
		json_put "ctx python $m, latency" "${L[$m]}" "us/request"
		json_put "ctx python $m, CPU" "${C[$m]}" "us/request"
		json_put "ctx python $m, spans received" "${S[$m]}" "spans/request"
		say "%-8s %9.1f %9.1f %14.1f %14.1f %s" "$m" "${L[$m]}" "${C[$m]}" \
			"$(calc 'a - b' a="${L[$m]}" b="${L[bare]}")" "$(calc 'a - b' a="${C[$m]}" b="${C[bare]}")" "${S[$m]}"
	done
	json_put "ctx python bridge, added CPU" "$(calc 'a - b' a="${C[traced]}" b="${C[nobridge]}")" "us/request"
	row "Python aiohttp front (2 client calls) -> C backend, 20 in flight, bare" \
		"${L[bare]} us, ${C[bare]} us CPU per request" "-"
	pair_fig diff "$tmp/ctxpy_run.traced" "$tmp/ctxpy_run.bare" 2 >"$tmp/ctxpy.added"
	pair_fig diff "$tmp/ctxpy_run.traced" "$tmp/ctxpy_run.nobridge" 2 >"$tmp/ctxpy.bridge"
	row "... traced, with the Python bridge" \
		"$(delta "${L[traced]}" "${L[bare]}") us, $(median "$tmp/ctxpy.added") us CPU [$(spread "$tmp/ctxpy.added")] per request; ${S[traced]} spans/request" "-"
	row "... the bridge's own share (traced - traced with AUTOTRACE_RUNTIME_BRIDGES=false)" \
		"$(delta "${L[traced]}" "${L[nobridge]}") us, $(median "$tmp/ctxpy.bridge") us CPU [$(spread "$tmp/ctxpy.bridge")] per request" "-"
	local per cost with without
	ctxpy_run count >/dev/null
	per=$(cat "$tmp/ctxpy.count" 2>/dev/null || echo 0)
	# What the bridge adds to one callback, measured in $reps processes;
	# each gives a computed figure per request (judged), the median is
	# reported.
	: >"$tmp/ctxpy.cost"
	for _ in $(seq 1 "$reps"); do
		cost=$(LD_PRELOAD=$lib OTEL_TRACES_EXPORTER=none "$ctxpy_python" tests/fixtures/ctx/py_bridge_cost.py || true)
		echo "$(echo "$cost" | sed -n 's/.*with_ns=\([0-9.-]*\).*/\1/p')" \
			"$(echo "$cost" | sed -n 's/.*without_ns=\([0-9.-]*\).*/\1/p')" >>"$tmp/ctxpy.cost"
	done
	awk -v p="$per" 'NF == 2 {printf "%.4g\n", p * $1 / 1000}' "$tmp/ctxpy.cost" >"$tmp/ctxpy.computed"
	with=$(median "$tmp/ctxpy.cost" 1)
	without=$(median "$tmp/ctxpy.cost" 2)
	say "asyncio callbacks per request: %s; the bridge adds %s ns to one run for a request, %s ns to one for none" \
		"$per" "${with:-?}" "${without:-?}"
	json_put "ctx python callbacks per request" "$per" "callbacks/request"
	json_put "ctx python bridge, per callback" "${with:-null}" "ns"
	json_put "ctx python bridge, computed CPU" "$(calc 'p * w / 1000' p="$per" w="${with:-0}")" "us/request"
	row "... the bridge's CPU, computed (callbacks per request x added per callback, all counted as a request's)" \
		"$(calc 'p * w / 1000' p="$per" w="${with:-0}") us per request [$(spread "$tmp/ctxpy.computed")] ($per x ${with:-?} ns)" "≤ 2 us"
	judge ctx_py "$tmp/ctxpy.computed"
}
