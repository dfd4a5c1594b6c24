# HTTPS keep-alive loops on loopback through OpenSSL (hooks/tls), client
# and server both bare vs both traced (exporting to a sink), and the client
# alone traced: Python http.client.HTTPSConnection on one connection
# against tests/fixtures/tls/tls_server.py (Python's ssl server, one
# thread per connection), certificates from tests/fixtures/tls/make-ca.sh.
# Both sides use /usr/bin/python3 (Debian's ssl module and libssl).  The
# bare and the traced client are up at once and take turns, chunks of
# BENCH_HTTPS_REQUESTS requests (1000 unless told; interleave.py), the
# servers on their own core.  The budget (<= 2 us per request) is judged on
# both traced - both bare, per pair.

# https_server MODE: start a tls_server.py (bare or traced) on the servers'
# core; sets server_pid and server_port.
https_server() {
	# shellcheck disable=SC2086
	start_server "$tmp/https.$1.port" "$(preload "$1")" $server_pin /usr/bin/python3 \
		tests/fixtures/tls/tls_server.py "$tmp/https.$1.port" /dev/null \
		--cert "$tmp/tls/server.pem" --key "$tmp/tls/server.key"
}

# https_client PORT: the command of a chunked client of PORT.
https_client() {
	echo "exec /usr/bin/python3 scripts/bench/https_chunks.py $1 $tmp/tls/ca.pem $https_n"
}

bench_https() {
	local b t c spans bare_port bare_pid traced_pid
	echo "== HTTPS keep-alive loop on loopback (OpenSSL), bare vs traced, interleaved"
	sh tests/fixtures/tls/make-ca.sh "$tmp/tls"
	sink_start
	https_n=${BENCH_HTTPS_REQUESTS:-1000}
	https_server bare
	bare_port=$server_port bare_pid=$server_pid
	https_server traced
	traced_pid=$server_pid
	# both traced vs both bare; then the client alone traced (both
	# clients of the bare server, which serves each connection on its
	# own thread)
	interleave https_both "$(https_client "$bare_port")" "LD_PRELOAD=$lib $(https_client "$server_port")" ||
		say "the HTTPS loop failed: its figures are incomplete"
	interleave https_client "$(https_client "$bare_port")" "LD_PRELOAD=$lib $(https_client "$bare_port")" ||
		say "the HTTPS loop failed: its figures are incomplete"
	stop "$bare_pid"
	stop "$traced_pid"
	spans=$(sink_stop)
	b=$(median "$tmp/https_both.bare")
	t=$(median "$tmp/https_both.traced")
	pair_fig diff "$tmp/https_both.traced" "$tmp/https_both.bare" >"$tmp/https.added"
	pair_fig diff "$tmp/https_client.traced" "$tmp/https_client.bare" >"$tmp/https.client"
	c=$(median "$tmp/https.client")
	say "%-40s %8.2f us bare, %8.2f us traced: %+.2f us [%s] per request (ratio %.3f)" \
		"Python HTTPS, client + server traced" "$b" "$t" "$(median "$tmp/https.added")" \
		"$(spread "$tmp/https.added")" "$(calc 't / b' t="$t" b="$b")"
	say "%-40s %+.2f us [%s] per request" \
		"Python HTTPS, client only traced" "$c" "$(spread "$tmp/https.client")"
	say "spans received by the sink: %s" "$spans"
	json_put "https python keep-alive, bare" "$b" "us/request"
	json_put "https python keep-alive, added (both traced)" "$(median "$tmp/https.added")" "us/request"
	json_put "https python keep-alive, added (client traced)" "$c" "us/request"
	row "Python HTTPS keep-alive (chunks of $https_n requests, OpenSSL), both traced vs both bare" \
		"$(median "$tmp/https.added") us per request [$(spread "$tmp/https.added")] ($b us bare)" "≤ 2 us"
	judge https "$tmp/https.added"
}
