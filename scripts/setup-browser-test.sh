#!/bin/sh
# setup-browser-test.sh - what tests/browser/page.test.js needs: the npm
# package playwright-core (the driver only; it downloads no browser) in
# BUILD/browser (default build/browser), and Debian's Chromium in
# /usr/bin/chromium.  Installs only what is missing.
#
#   scripts/setup-browser-test.sh [BUILD]
set -eu

BUILD=${1:-build}
PREFIX=$BUILD/browser
PKG=playwright-core@1
CHROMIUM=/usr/bin/chromium

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "setup-browser-test: node/npm not found; install Node.js and npm" \
		"(Debian: apt-get install nodejs npm)" >&2
	exit 1
fi

if [ -f "$PREFIX/node_modules/playwright-core/package.json" ]; then
	echo "setup-browser-test: playwright-core already in $PREFIX"
else
	mkdir -p "$PREFIX"
	echo "setup-browser-test: installing $PKG into $PREFIX"
	# The driver package never downloads a browser; be explicit anyway.
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$PREFIX" \
		--no-audit --no-fund --no-save --loglevel=error "$PKG"
	if [ ! -f "$PREFIX/node_modules/playwright-core/package.json" ]; then
		echo "setup-browser-test: playwright-core missing after npm install" >&2
		exit 1
	fi
fi

if [ -x "$CHROMIUM" ]; then
	echo "setup-browser-test: $CHROMIUM present"
elif [ "$(id -u)" -eq 0 ]; then
	echo "setup-browser-test: installing chromium (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq chromium >/dev/null
	if [ ! -x "$CHROMIUM" ]; then
		echo "setup-browser-test: $CHROMIUM missing after apt-get install" >&2
		exit 1
	fi
else
	echo "setup-browser-test: $CHROMIUM is missing and we are not root;" \
		"install it with: sudo apt-get install chromium" >&2
	exit 1
fi
echo "setup-browser-test: done"
