# Scenario ctx_native: nginx as a reverse proxy (2 workers, upstream
# keep-alive: tests/fixtures/ctx/nginx-proxy.sh) in front of ctx_upstream
# (bare), driven by ctx_load (bare) with 20 requests in flight over
# keep-alive connections, each request "/r<id>" checked; nginx bare, then
# under libautotrace (exporting to a sink), alternately.  Per request: the
# latency (ctx_load's loop time x 20 / N: the mean time a request is in
# flight), the loop time / N, and the CPU of nginx's master and workers
# over the loop (their threads' time on a CPU, cpu_ns); the overhead is the
# traced figure minus the bare one.

# ctx_native_run MODE -> latency us, loop us per request, CPU us per
# request, spans the sink got per request.
ctx_native_run() {
	local mode=$1 n=$ctx_n conc=20 warm=500 dir t0 t1 ns spans pids p
	dir=$tmp/ctx-nginx-$mode
	rm -rf "$dir"
	mkdir -p "$dir"
	sink_start
	LD_PRELOAD=$(preload "$mode") sh tests/fixtures/ctx/nginx-proxy.sh "$dir" "$ctx_up_port" 2 \
		>/dev/null 2>&1 &
	server_pid=$!
	wait_file "$dir/port"
	server_port=$(cat "$dir/port")
	# The port is written before nginx listens: wait until it accepts.
	for _ in $(seq 1 400); do
		(exec 3<>"/dev/tcp/127.0.0.1/$server_port") 2>/dev/null && break
		sleep 0.05
	done
	"$build/fixtures/ctx/ctx_load" 127.0.0.1 "$server_port" --conc $conc --count $warm >/dev/null ||
		echo "bench: ctx_native: warm-up answers were wrong" >&2
	pids="$server_pid $(pgrep -P "$server_pid" | tr '\n' ' ')"
	t0=0
	for p in $pids; do t0=$((t0 + $(cpu_ns "$p"))); done
	ns=$("$build/fixtures/ctx/ctx_load" 127.0.0.1 "$server_port" --conc $conc --count "$n" |
		sed -n 's/.*bad=0 elapsed_ns=\([0-9]*\).*/\1/p')
	t1=0
	for p in $pids; do t1=$((t1 + $(cpu_ns "$p"))); done
	kill -QUIT "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	spans=$(sink_stop)
	echo "$(calc 'ns * c / n / 1000' ns="${ns:-0}" c=$conc n="$n")" \
		"$(calc 'ns / n / 1000' ns="${ns:-0}" n="$n")" \
		"$(calc '(t1 - t0) / 1000 / n' t1="$t1" t0="$t0" n="$n")" \
		"$(calc 's / (n + w)' s="${spans:-0}" n="$n" w="$warm")"
}

bench_ctx_native() {
	local m up_pid
	local -A L T C S
	ctx_n=${BENCH_CTX_REQUESTS:-4000}
	echo "== ctx_native: nginx reverse proxy (2 workers, upstream keep-alive), 20 in flight, $ctx_n requests: bare and under libautotrace ($reps runs each, alternating, medians)"
	if [ ! -x /usr/sbin/nginx ]; then
		say "nginx not found (nginx-light): skipped"
		return
	fi
	rm -f "$tmp/ctx-up.port"
	"$build/fixtures/ctx/ctx_upstream" "$tmp/ctx-up.port" >/dev/null 2>&1 &
	up_pid=$!
	wait_file "$tmp/ctx-up.port"
	ctx_up_port=$(cat "$tmp/ctx-up.port")
	alternate ctx_native_run bare traced
	stop "$up_pid"
	for m in bare traced; do
		L[$m]=$(median "$tmp/ctx_native_run.$m" 1)
		T[$m]=$(median "$tmp/ctx_native_run.$m" 2)
		C[$m]=$(median "$tmp/ctx_native_run.$m" 3)
		S[$m]=$(median "$tmp/ctx_native_run.$m" 4)
		json_put "ctx nginx $m, latency" "${L[$m]}" "us/request"
		json_put "ctx nginx $m, CPU" "${C[$m]}" "us/request"
	done
	say "%-7s %11s %11s %9s %s" mode "latency us" "loop us/req" "CPU us" "spans/req at the sink"
	for m in bare traced; do
		say "%-7s %11.1f %11.1f %9.1f %s" "$m" "${L[$m]}" "${T[$m]}" "${C[$m]}" "${S[$m]}"
	done
	json_put "ctx nginx added latency" "$(calc 'a - b' a="${L[traced]}" b="${L[bare]}")" "us/request"
	json_put "ctx nginx added CPU" "$(calc 'a - b' a="${C[traced]}" b="${C[bare]}")" "us/request"
	row "nginx reverse proxy, 20 in flight, bare" "${L[bare]} us latency, ${C[bare]} us CPU per request" "-"
	pair_fig diff "$tmp/ctx_native_run.traced" "$tmp/ctx_native_run.bare" 3 >"$tmp/ctx_native.added"
	row "... under libautotrace" \
		"$(delta "${L[traced]}" "${L[bare]}") us latency, $(median "$tmp/ctx_native.added") us CPU [$(spread "$tmp/ctx_native.added")] per request; ${S[traced]} spans/request" "-"
}
