# Scenario 3, HTTP keep-alive request loops on loopback, client and server
# both bare vs both traced (exporting to a sink):
#  - C: http_client --chunks (one connection; chunks of BENCH_HTTP_REQUESTS
#    requests, 2000 unless told) against http_service --sequential, a bare
#    pair and a traced pair up at once, taking turns (interleave.py), the
#    clients on one core and the servers on the other;
#  - Python: py_client.py against tests/fixtures/py/threading_server.py
#    (http.server, protocol_version HTTP/1.1 so that connections are kept
#    alive; --nodelay, or every response waits for a delayed ACK):
#    http.client on one connection (urllib never keeps a connection
#    alive), and urllib with a new connection per request.

# pair MODE PORTFILE "SERVER..." CLIENT...: start the server, run the client
# with the server's port as its last argument (it makes $pair_n requests
# and prints elapsed_ns=N), stop the server; print microseconds per
# request.
pair() {
	local mode=$1 pf=$2 server=$3 pre ns
	shift 3
	pre=$(preload "$mode")
	# shellcheck disable=SC2086
	start_server "$pf" "$pre" $server
	ns=$(LD_PRELOAD=$pre "$@" "$server_port" 2>&1 | sed -n 's/.*elapsed_ns=\([0-9]*\).*/\1/p')
	stop "$server_pid"
	calc 'ns / n / 1000' ns="${ns:-0}" n="$pair_n"
}

# c_pair: the bare and the traced C pairs, interleaved; $tmp/c_pair.{bare,
# traced}: wall and CPU microseconds per request of each chunk.
c_pair() {
	interleave_http_service c_pair traced \
		"$build/fixtures/http_client --chunks $pair_n 127.0.0.1 {port}"
}

py_server="python3 tests/fixtures/py/threading_server.py --nodelay"
py_keepalive() {
	pair "$1" "$tmp/py.port" "$py_server $tmp/py.port" python3 tests/bench/py_client.py "$pair_n"
}
py_urllib() {
	pair "$1" "$tmp/py.port" "$py_server $tmp/py.port" python3 tests/bench/py_client.py --urllib "$pair_n"
}

# pair_report NAME KEY WHAT TARGET [BUDGET]: medians of $tmp/NAME.{bare,
# traced}, and the added time per pair (traced - bare, run i with run i)
# with its spread; BUDGET (scripts/bench/budgets.sh) judged on the pairs.
pair_report() {
	local b t d
	b=$(median "$tmp/$1.bare")
	t=$(median "$tmp/$1.traced")
	pair_fig diff "$tmp/$1.traced" "$tmp/$1.bare" >"$tmp/$1.added"
	d=$(median "$tmp/$1.added")
	say "%-40s %8.2f us bare, %8.2f us traced: %+.2f us per request [%s over %d pairs] (ratio %.3f)" \
		"$3" "$b" "$t" "$d" "$(spread "$tmp/$1.added")" "$(wc -l <"$tmp/$1.added")" "$(calc 't / b' t="$t" b="$b")"
	json_put "$2, bare" "$b" "us/request"
	json_put "$2, traced" "$t" "us/request"
	json_put "$2, added" "$d" "us/request"
	row "$3, both traced vs both bare" \
		"$(calc 'd' d="$d") us per request [$(spread "$tmp/$1.added")] ($b us bare)" "$4"
	[ -z "${5:-}" ] || judge "$5" "$tmp/$1.added"
}

bench_http() {
	local spans per reps=$pair_reps n_c n_py n_url
	echo "== 3. HTTP keep-alive loops on loopback, client and server both bare vs both traced ($reps pairs, alternating, medians)"
	sink_start
	n_c=${BENCH_HTTP_REQUESTS:-2000} n_py=3000 n_url=1000
	pair_n=$n_c
	c_pair
	pair_report c_pair "http C keep-alive" "C client + C server, keep-alive, chunks of $pair_n requests" "≤ 2 us" http_c_pair
	pair_n=$n_py
	alternate py_keepalive bare traced
	pair_report py_keepalive "http python keep-alive" "Python http.client + http.server, keep-alive, $pair_n requests" "≤ 2 us"
	pair_n=$n_url
	alternate py_urllib bare traced
	pair_report py_urllib "http python urllib" "Python urllib + http.server, a connection per request, $pair_n requests" "-"
	spans=$(sink_stop)
	# traced runs: the C, Python and urllib requests, each a client and a
	# server span (urllib: a connect span too).
	per=$(calc 's / (k * a + r * (b + c))' s="${spans:-0}" k="$((loop_pairs + 1))" \
		r="$reps" a="$n_c" b="$n_py" c="$n_url")
	say "spans received by the sink: %s (%.2f per traced request)" "$spans" "$per"
	json_put "http spans received per traced request" "$per" "spans"
}
