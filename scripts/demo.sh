#!/usr/bin/env bash
# make demo: the main job on an embedded default - no collector, no
# network beyond loopback.
#
# Installs what is missing, builds, starts a throwaway PostgreSQL, and runs
# a small system with no tracing code in it (scripts/demo/: a Python
# frontend calling a Python backend over HTTP, the backend querying
# PostgreSQL, with an N+1 endpoint and a failing one; and Redis as the
# backend's cache when redis-server and python3-redis are installed) under
# `autotrace`, which prints the trace trees and their findings and writes
# build/demo.html.
#
# On a terminal (stdout is a TTY and CI is unset), autotrace also serves
# the live dashboard (--ui, one trace per request: --no-root) and the demo
# ends by printing its URL, serving until Ctrl-C (DEMO_UI_PORT=N for a
# fixed port).  Under CI (no terminal) it writes the page and exits.
# Everything is stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --demo
make -s all >/dev/null

work=$(mktemp -d)
pgdir=$(mktemp -u /tmp/at-pg-XXXXXX)
rddir=$(mktemp -u /tmp/at-rd-XXXXXX)
cleanup() {
	sh tests/fixtures/pg/pg-run.sh stop "$pgdir" >/dev/null 2>&1 || true
	sh tests/fixtures/redis/redis-run.sh stop "$rddir" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

sh tests/fixtures/pg/pg-run.sh start "$pgdir" >/dev/null
port=$(cat "$pgdir/port")
psql -X -q -h "$pgdir" -p "$port" -U postgres -d autotrace <<'SQL'
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 8) AS i;
SQL

redis_port=
if command -v redis-server >/dev/null 2>&1 &&
	/usr/bin/python3 -c 'import redis' 2>/dev/null &&
	sh tests/fixtures/redis/redis-run.sh start "$rddir" >/dev/null 2>&1; then
	redis_port=$(cat "$rddir/port")
fi

ui=()
if [ -t 1 ] && [ -z "${CI:-}" ]; then
	ui=(--ui --no-root)
	[ -z "${DEMO_UI_PORT:-}" ] || ui+=(--ui-port "$DEMO_UI_PORT")
fi
[ ${#ui[@]} -eq 0 ] ||
	echo "== the traces are also written as a page to build/demo.html; the live dashboard's URL comes last"
echo "== autotrace -- scripts/demo/system.sh (frontend -> backend -> PostgreSQL${redis_port:+, Redis})"
build/autotrace "${ui[@]}" --html build/demo.html -- \
	sh scripts/demo/system.sh "$work" "host=$pgdir port=$port user=postgres dbname=autotrace" \
	$redis_port
if [ ${#ui[@]} -eq 0 ]; then
	echo "== the same traces as a page: build/demo.html (open it in a browser)"
	echo "== the live dashboard: 'make demo' on a terminal, or 'build/autotrace serve' (it prints its URL)"
fi
