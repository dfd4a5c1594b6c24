#!/bin/sh
# setup-node-decoder.sh - install the independent OTLP decoder used by
# tests/tools/otlp-decode.js: the protobufjs code generated from the
# official OpenTelemetry protos, as shipped in the npm package
# @opentelemetry/otlp-transformer.  Installs into BUILD/node (default
# build/node) and does nothing if the package is already there.
#
#   scripts/setup-node-decoder.sh [BUILD]
set -eu

PKG_NAME=@opentelemetry/otlp-transformer
PKG_VERSION=0.203.0
BUILD=${1:-build}
PREFIX=$BUILD/node
ROOT_JS=$PREFIX/node_modules/$PKG_NAME/build/src/generated/root.js
PKG_JSON=$PREFIX/node_modules/$PKG_NAME/package.json

installed_version() {
	[ -f "$PKG_JSON" ] || return 1
	sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' \
		"$PKG_JSON" | head -n 1
}

if [ -f "$ROOT_JS" ] && [ "$(installed_version)" = "$PKG_VERSION" ]; then
	echo "setup-node-decoder: $PKG_NAME@$PKG_VERSION already in $PREFIX"
	exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
	echo "setup-node-decoder: npm not found; install Node.js and npm" \
		"(Debian: apt-get install nodejs npm) to run the official" \
		"OTLP decoder check" >&2
	exit 1
fi
if ! command -v node >/dev/null 2>&1; then
	echo "setup-node-decoder: node not found; install Node.js" >&2
	exit 1
fi

mkdir -p "$PREFIX"
echo "setup-node-decoder: installing $PKG_NAME@$PKG_VERSION into $PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --no-save \
	--loglevel=error "$PKG_NAME@$PKG_VERSION"

if [ ! -f "$ROOT_JS" ]; then
	echo "setup-node-decoder: $ROOT_JS missing after npm install" >&2
	exit 1
fi
echo "setup-node-decoder: done"
