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
export AT_BUILD_DIR="$build"
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}

pgdir=$(mktemp -u /tmp/at-pg-XXXXXX)
cleanup() { sh tests/fixtures/pg/pg-run.sh stop "$pgdir" >/dev/null 2>&1 || true; }
trap cleanup EXIT
sh tests/fixtures/pg/pg-run.sh start "$pgdir" >/dev/null
export AT_PG_DIR=$pgdir AT_PG_PORT=$(cat "$pgdir/port")

"$build/tests/integration" "$@"
