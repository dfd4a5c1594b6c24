#!/bin/sh
# The demo system, run by `autotrace` (scripts/demo.sh): starts the backend
# and the frontend (Python, no tracing code), sends a few requests with
# curl, then stops both cleanly.   system.sh WORKDIR DSN [REDIS_PORT]
# With REDIS_PORT the backend caches items there and two more requests
# read one item twice (a cache miss, then a hit).
set -eu
dir=$1
dsn=$2
redis=${3:-}
here=$(dirname "$0")

wait_file() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -le 200 ] || { echo "demo: $1 did not appear" >&2; exit 1; }
		sleep 0.05
	done
}

OTEL_SERVICE_NAME=backend /usr/bin/python3 "$here/backend.py" "$dir/backend.port" "$dsn" $redis &
backend=$!
wait_file "$dir/backend.port"
OTEL_SERVICE_NAME=frontend /usr/bin/python3 "$here/frontend.py" "$dir/frontend.port" \
	"http://127.0.0.1:$(cat "$dir/backend.port")" &
frontend=$!
wait_file "$dir/frontend.port"
url=http://127.0.0.1:$(cat "$dir/frontend.port")

paths="/catalog /catalog /checkout"
[ -z "$redis" ] || paths="$paths /item/3 /item/3"
for path in $paths; do
	printf '%s -> ' "$path"
	OTEL_SERVICE_NAME=client curl -s -o /dev/null -w '%{http_code}\n' "$url$path"
done

kill -TERM "$frontend" "$backend"
wait "$frontend" "$backend" || true
