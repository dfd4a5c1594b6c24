#!/usr/bin/env bash
# make demo: the main job on an embedded default, no collector needed.
#
# Installs what is missing, builds, starts the project's own OTLP/HTTP
# receiver on a loopback port and a Python ThreadingHTTPServer under the
# library, and runs real programs under the library against it: curl and a
# python3 urllib client, then curl against a port where nothing listens.
# Prints every span that arrived, decoded from the protobuf (client and
# server spans of one request share a trace id), then stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -s all >/dev/null

lib=$(realpath build/libautotrace.so)
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

wait_file() { # FILE PATTERN: wait (max 10 s) until FILE contains PATTERN
	for _ in $(seq 1 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "demo: timed out waiting for $1" >&2
	return 1
}

# 1. The receiver: prints one line per span; exits after all 7 arrived.
build/autotrace-receiver --bind 127.0.0.1 --port 0 --port-file "$tmp/rx.port" \
	--count 7 --timeout-ms 20000 >"$tmp/spans" 2>"$tmp/rx.err" &
pids+=($!)
rx=$!
wait_file "$tmp/rx.port" .
endpoint=http://127.0.0.1:$(cat "$tmp/rx.port")

# 2. A web server under the library (it exports every 100 ms).
OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint OTEL_SERVICE_NAME=demo-server \
	OTEL_BSP_SCHEDULE_DELAY=100 LD_PRELOAD=$lib \
	python3 tests/fixtures/py/threading_server.py "$tmp/www.port" &
pids+=($!)
wait_file "$tmp/www.port" .
port=$(cat "$tmp/www.port")

echo "== curl under the library"
OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint OTEL_SERVICE_NAME=demo-curl LD_PRELOAD=$lib \
	curl -s "http://127.0.0.1:$port/"
echo "== python3 urllib under the library"
OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint OTEL_SERVICE_NAME=demo-python LD_PRELOAD=$lib \
	python3 -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:$port/').read().decode(), end='')"
echo "== curl to a port where nothing listens (exit code 7 either way)"
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
OTEL_EXPORTER_OTLP_ENDPOINT=$endpoint OTEL_SERVICE_NAME=demo-curl LD_PRELOAD=$lib \
	curl -s "http://127.0.0.1:$closed/" || echo "curl exit code $?"

wait "$rx" || true
echo
echo "== spans received by the embedded OTLP receiver ($endpoint/v1/traces)"
cat "$tmp/spans"
n=$(grep -c '^span ' "$tmp/spans" || true)
if [ "$n" -lt 7 ]; then
	echo "demo: expected 7 spans, got $n" >&2
	cat "$tmp/rx.err" >&2
	exit 1
fi
