#!/usr/bin/env bash
# Run the integration tests: real programs under the library, exporting to
# receivers the tests start.  Installs the independent OTLP decoder (npm)
# first.  Usage: scripts/run-integration.sh [BUILD_DIR] [criterion args]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
scripts/setup-node-decoder.sh "$build"
export AT_BUILD_DIR="$build"
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
exec "$build/tests/integration" "$@"
