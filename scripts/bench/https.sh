# HTTPS keep-alive loops on loopback through OpenSSL (hooks/tls), client
# and server both bare vs both traced (exporting to a sink), and the client
# alone traced: Python http.client.HTTPSConnection on one connection
# against tests/fixtures/tls/tls_server.py (Python's ssl server, one
# thread per connection), certificates from tests/fixtures/tls/make-ca.sh.
# Both sides use /usr/bin/python3 (Debian's ssl module and libssl).  The
# budget (<= 2 us per request) is judged on both traced - both bare, per
# pair.

# https_run MODE_SERVER MODE_CLIENT: microseconds per request.
https_run() {
	local ns
	start_server "$tmp/https.port" "$(preload "$1")" /usr/bin/python3 \
		tests/fixtures/tls/tls_server.py "$tmp/https.port" /dev/null \
		--cert "$tmp/tls/server.pem" --key "$tmp/tls/server.key"
	ns=$(LD_PRELOAD=$(preload "$2") /usr/bin/python3 - "$server_port" "$tmp/tls/ca.pem" "$https_n" <<'PY' 2>&1 | sed -n 's/.*elapsed_ns=\([0-9]*\).*/\1/p'
import http.client, ssl, sys, time
port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPSConnection("localhost", port,
                                context=ssl.create_default_context(cafile=ca))
c.request("GET", "/warm"); c.getresponse().read()
t0 = time.monotonic_ns()
for i in range(n):
    c.request("GET", "/r")
    c.getresponse().read()
print("elapsed_ns=%d" % (time.monotonic_ns() - t0))
PY
)
	stop "$server_pid"
	calc 'ns / n / 1000' ns="${ns:-0}" n="$https_n"
}
https_both() { https_run "$1" "$1"; }
https_client() { https_run bare "$1"; }

bench_https() {
	local b t c spans reps=$pair_reps
	echo "== HTTPS keep-alive loop on loopback (OpenSSL), bare vs traced ($reps pairs, alternating, medians)"
	sh tests/fixtures/tls/make-ca.sh "$tmp/tls"
	sink_start
	https_n=${BENCH_HTTPS_REQUESTS:-3000}
	alternate https_both bare traced
	alternate https_client traced
	spans=$(sink_stop)
	b=$(median "$tmp/https_both.bare")
	t=$(median "$tmp/https_both.traced")
	pair_fig diff "$tmp/https_both.traced" "$tmp/https_both.bare" >"$tmp/https.added"
	c=$(median "$tmp/https_client.traced")
	say "%-40s %8.2f us bare, %8.2f us traced: %+.2f us [%s] per request (ratio %.3f)" \
		"Python HTTPS, client + server traced" "$b" "$t" "$(median "$tmp/https.added")" \
		"$(spread "$tmp/https.added")" "$(calc 't / b' t="$t" b="$b")"
	say "%-40s %8.2f us: %+.2f us per request" \
		"Python HTTPS, client only traced" "$c" "$(calc 'c - b' c="$c" b="$b")"
	say "spans received by the sink: %s" "$spans"
	json_put "https python keep-alive, bare" "$b" "us/request"
	json_put "https python keep-alive, added (both traced)" "$(median "$tmp/https.added")" "us/request"
	json_put "https python keep-alive, added (client traced)" "$(calc 'c - b' c="$c" b="$b")" "us/request"
	row "Python HTTPS keep-alive ($https_n requests, OpenSSL), both traced vs both bare" \
		"$(median "$tmp/https.added") us per request [$(spread "$tmp/https.added")] ($b us bare)" "≤ 2 us"
	judge https "$tmp/https.added"
}
