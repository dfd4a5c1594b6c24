#!/bin/sh
# setup-wire-node.sh - install the Node.js database drivers the wire
# protocol tests run (pg, mysql2, ioredis: versions pinned in
# tests/fixtures/wire/node/package-lock.json) into BUILD/wire-node
# (default build/wire-node) with `npm ci`; does nothing when the installed
# lock file is the pinned one.  Tests find the modules with
# NODE_PATH=BUILD/wire-node/node_modules.
#
#   scripts/setup-wire-node.sh [BUILD]
set -eu

SRC=tests/fixtures/wire/node
BUILD=${1:-build}
DEST=$BUILD/wire-node

if cmp -s "$SRC/package-lock.json" "$DEST/package-lock.json" &&
	[ -d "$DEST/node_modules/pg" ] && [ -d "$DEST/node_modules/ioredis" ] &&
	[ -d "$DEST/node_modules/mysql2" ] && [ -d "$DEST/node_modules/express" ]; then
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "setup-wire-node: npm not found (Debian: apt-get install nodejs npm)" >&2
	exit 1
fi
mkdir -p "$DEST"
rm -f "$DEST/package-lock.json"
cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
echo "setup-wire-node: npm ci (pg, mysql2, ioredis, express) into $DEST"
(cd "$DEST" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || {
	rm -f "$DEST/package-lock.json"
	echo "setup-wire-node: npm ci failed" >&2
	exit 1
}
