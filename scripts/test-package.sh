#!/usr/bin/env bash
# test-package.sh - the Debian package, installed, used and removed
# (make check-package; CI runs it as root on a fresh Debian 12).
#
#   scripts/test-package.sh [BUILD]
#
# make deb, then dpkg -i the package and check, through the installed
# paths only:
#   - /usr/bin/autotrace -- curl http://127.0.0.1:PORT/ (a python3
#     http.server on a free loopback port) gives the client span of that
#     request, and the command got LD_PRELOAD=/usr/lib/libautotrace/...;
#   - LD_PRELOAD=/usr/lib/libautotrace.so curl ... exports the span to
#     `autotrace serve` (a free port), which writes it with --json;
#   - python3 and node under the library load the bridges installed beside
#     it (when those runtimes are installed);
#   - man -w finds libautotrace(7) and autotrace(1), and libautotrace(7)
#     lists the variables;
# then dpkg -r, and no file of the package is left.  The package is
# removed on any failure too (trap).  Waits are on conditions, 30 s at
# most each.  Without root it skips with one line; with libautotrace
# already installed it refuses rather than touch that installation.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

if [ "$(id -u)" -ne 0 ]; then
	echo "check-package: skipped (dpkg -i needs root)"
	exit 0
fi
if dpkg-query -W -f='${Status}\n' libautotrace 2>/dev/null | grep -q ' installed$'; then
	echo "check-package: libautotrace is installed on this machine; not testing over it" >&2
	exit 1
fi

work=$(mktemp -d /tmp/at-pkg-XXXXXX)
pids=()
installed=0
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	[ "$installed" = 0 ] || dpkg -r libautotrace >/dev/null 2>&1 || true
	[ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() {
	echo "check-package: FAIL: $*" >&2
	exit 1
}
# wait_for DESCRIPTION COMMAND...: until COMMAND succeeds, 30 s at most.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 300); do
		"$@" && return 0
		sleep 0.1
	done
	fail "$what (waited 30 s)"
}
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

make -s --no-print-directory BUILD="$build" deb > "$work/deb.out"
deb=$(grep '\.deb$' "$work/deb.out" | head -1)
[ -f "$deb" ] || fail "make deb made no package"

# Man pages are installed even where a dpkg configuration excludes them
# (minimal images): the test reads them.
installed=1
dpkg --path-include='/usr/share/man/*' -i "$deb" > "$work/dpkg.log" 2>&1 ||
	{ cat "$work/dpkg.log" >&2; fail "dpkg -i $deb"; }
dpkg -L libautotrace > "$work/files"
lib=/usr/lib/libautotrace/libautotrace.so
[ -f "$lib" ] && [ -L /usr/lib/libautotrace.so ] || fail "the library is not at $lib"

# A server that answers on a free loopback port.
mkdir -p "$work/www"
echo "hello from the package test" > "$work/www/hello.txt"
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work/www" \
	> "$work/http.log" 2>&1 &
pids+=($!)
wait_for "the HTTP server to listen" grep -q ' port [0-9]' "$work/http.log"
port=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$work/http.log" | head -1)
url=http://127.0.0.1:$port/hello.txt

# 1. autotrace -- curl, with the installed program and library.
env -u AUTOTRACE_LIB /usr/bin/autotrace --json "$work/run.json" -o "$work/run.txt" \
	-- curl -sS -o "$work/body" "$url" || fail "autotrace -- curl exited with $?"
cmp -s "$work/body" "$work/www/hello.txt" || fail "curl under autotrace got another body"
grep -q "\"url.full\".*\"$url\"" "$work/run.json" ||
	fail "no client span for $url in autotrace's --json output"
grep -q "GET /hello.txt" "$work/run.txt" && grep -q "connect .*127.0.0.1:$port" "$work/run.txt" || fail "autotrace did not print the trace"
preload=$(env -u AUTOTRACE_LIB /usr/bin/autotrace --quiet -- sh -c 'printf %s "$LD_PRELOAD"')
[ "$preload" = "$lib" ] || fail "autotrace preloaded '$preload', not $lib"
echo "check-package: autotrace -- curl: span of $url, LD_PRELOAD=$preload"

# 2. LD_PRELOAD=/usr/lib/libautotrace.so, exporting to autotrace serve.
for attempt in 1 2 3; do
	sport=$(free_port)
	/usr/bin/autotrace serve --port "$sport" --quiet --json "$work/serve.json" \
		2> "$work/serve.log" &
	spid=$!
	wait_for "autotrace serve to start" grep -q 'receiving\|busy\|cannot' "$work/serve.log"
	grep -q receiving "$work/serve.log" && break
	wait "$spid" || true
	[ "$attempt" -lt 3 ] || { cat "$work/serve.log" >&2; fail "autotrace serve did not start"; }
done
pids+=("$spid")
LD_PRELOAD=/usr/lib/libautotrace.so OTEL_SERVICE_NAME=package-test \
	OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sport \
	curl -sS -o "$work/body2" "$url" || fail "curl under LD_PRELOAD exited with $?"
cmp -s "$work/body2" "$work/www/hello.txt" || fail "curl under LD_PRELOAD got another body"
wait_for "the span of curl under LD_PRELOAD to reach autotrace serve" \
	grep -q "\"url.full\".*\"$url\"" "$work/serve.json"
grep -q '"package-test"' "$work/serve.json" || fail "the span lost OTEL_SERVICE_NAME"
echo "check-package: LD_PRELOAD=/usr/lib/libautotrace.so curl: span received by autotrace serve"

# 3. The runtime bridges, found beside the installed library.
if [ -x /usr/bin/python3 ]; then
	# The bridge wraps asyncio's callback runner once asyncio is imported.
	got=$(LD_PRELOAD=/usr/lib/libautotrace.so OTEL_TRACES_EXPORTER=none /usr/bin/python3 -c \
		'import asyncio; print(asyncio.events.Handle._run.__code__.co_filename)')
	[ "$got" = /usr/lib/libautotrace/autotrace-py/sitecustomize.py ] ||
		fail "python3 under the library did not load the bridge (asyncio's runner is in '$got')"
	echo "check-package: python3 bridge loaded"
fi
if command -v node > /dev/null 2>&1; then
	got=$(LD_PRELOAD=/usr/lib/libautotrace.so OTEL_TRACES_EXPORTER=none node -e \
		'console.log(Object.keys(require.cache).some(k => k.endsWith("/libautotrace/autotrace-bridge.js")))')
	[ "$got" = true ] || fail "node under the library did not load the bridge"
	echo "check-package: node bridge loaded"
fi

# 4. The man pages.
page=$(man -w libautotrace) || fail "man -w libautotrace finds no page"
man -w autotrace > /dev/null || fail "man -w autotrace finds no page"
zcat -f "$page" | grep -q 'OTEL_EXPORTER_OTLP_ENDPOINT' ||
	fail "libautotrace(7) does not list the variables"
echo "check-package: man -w libautotrace: $page"

# 5. Removed, nothing left.
dpkg -r libautotrace > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -r"; }
installed=0
left=()
while read -r f; do
	[ -d "$f" ] && [ ! -L "$f" ] && continue
	{ [ -e "$f" ] || [ -L "$f" ]; } && left+=("$f")
done < "$work/files"
[ -e /usr/lib/libautotrace ] && left+=(/usr/lib/libautotrace)
[ ${#left[@]} -eq 0 ] || fail "dpkg -r left ${left[*]}"
echo "check-package: OK ($(basename "$deb") installed, used and removed; nothing left)"
