#!/usr/bin/env bash
# make demo: the main job on an embedded default - no collector, no
# network beyond loopback.
#
# Installs what is missing, builds, starts a throwaway PostgreSQL, and runs
# a small system with no tracing code in it (scripts/demo/: a Python
# frontend calling a Python backend over HTTP, the backend querying
# PostgreSQL, with an N+1 endpoint and a failing one) under `autotrace`,
# which prints the trace trees and their findings and writes
# build/demo.html.  Everything is stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --demo
make -s all >/dev/null

work=$(mktemp -d)
pgdir=$(mktemp -u /tmp/at-pg-XXXXXX)
cleanup() {
	sh tests/fixtures/pg/pg-run.sh stop "$pgdir" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

sh tests/fixtures/pg/pg-run.sh start "$pgdir" >/dev/null
port=$(cat "$pgdir/port")
psql -X -q -h "$pgdir" -p "$port" -U postgres -d autotrace <<'SQL'
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 8) AS i;
SQL

echo "== autotrace -- scripts/demo/system.sh (frontend -> backend -> PostgreSQL)"
build/autotrace --html build/demo.html -- \
	sh scripts/demo/system.sh "$work" "host=$pgdir port=$port user=postgres dbname=autotrace"
echo "== the same traces as a page: build/demo.html (open it in a browser)"
