#!/usr/bin/env bash
# Run the integration tests: real programs under the library, exporting to
# receivers the tests start.  Installs the independent OTLP decoder (npm)
# first, and starts a throwaway PostgreSQL cluster for the libpq tests
# (stopped and removed at the end, whatever happens).
# Usage: scripts/run-integration.sh [BUILD_DIR] [criterion args]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
scripts/setup-node-decoder.sh build
scripts/setup-wire-node.sh "$build"
export AT_WIRE_NODE_PATH=$PWD/$build/wire-node/node_modules
export AT_BUILD_DIR="$build"
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}

# Throwaway servers (each run-script says how it works): PostgreSQL,
# MariaDB and Redis, each in a directory of its own, stopped and removed
# at the end whatever happens.
pgdir=$(mktemp -u /tmp/at-pg-XXXXXX)
mydir=$(mktemp -u /tmp/at-my-XXXXXX)
rddir=$(mktemp -u /tmp/at-rd-XXXXXX)
cleanup() {
	sh tests/fixtures/pg/pg-run.sh stop "$pgdir" >/dev/null 2>&1 || true
	[ ! -f tests/fixtures/mariadb/mariadb-run.sh ] ||
		sh tests/fixtures/mariadb/mariadb-run.sh stop "$mydir" >/dev/null 2>&1 || true
	[ ! -f tests/fixtures/redis/redis-run.sh ] ||
		sh tests/fixtures/redis/redis-run.sh stop "$rddir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
sh tests/fixtures/pg/pg-run.sh start "$pgdir" >/dev/null
export AT_PG_DIR=$pgdir AT_PG_PORT=$(cat "$pgdir/port")
if [ -f tests/fixtures/mariadb/mariadb-run.sh ]; then
	sh tests/fixtures/mariadb/mariadb-run.sh start "$mydir" >/dev/null
	export AT_MARIADB_DIR=$mydir AT_MARIADB_PORT=$(cat "$mydir/port")
fi
if [ -f tests/fixtures/redis/redis-run.sh ]; then
	sh tests/fixtures/redis/redis-run.sh start "$rddir" >/dev/null
	export AT_REDIS_DIR=$rddir AT_REDIS_PORT=$(cat "$rddir/port")
fi

"$build/tests/integration" "$@"
