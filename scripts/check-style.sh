#!/usr/bin/env bash
# A small checksrc: calls that must not appear where they do not belong.
#  - hooks/ must not allocate, lock or use stdio (they run inside the host,
#    possibly in signal handlers or inside its allocator);
#  - hooks/ and the library's own I/O (transport, log) must call the real
#    libc functions through AT_REAL(), never the interposed names, or the
#    library would trace (or recurse into) itself.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0

strip_comments() {
	# Drop /* */ comment lines and block-comment bodies (good enough for
	# this code base's style: comments on their own lines or trailing).
	sed -e 's#/\*.*\*/##g' "$1" | awk '
		/\/\*/ { inc = 1 }
		{ if (!inc) print FILENAME ":" NR ": " $0 }
		/\*\// { inc = 0 }' FILENAME="$1"
}

check() {
	local pattern=$1 what=$2
	shift 2
	for f in "$@"; do
		[ -f "$f" ] || continue
		hits=$(strip_comments "$f" | grep -E "$pattern" | grep -v 'AT_EXPORT' || true)
		if [ -n "$hits" ]; then
			echo "check-style: $what:" >&2
			echo "$hits" >&2
			fail=1
		fi
	done
}

hooks=$(find hooks -name '*.c' ! -name 'at_*' | sort)
check '(^|[^_[:alnum:]])(malloc|calloc|realloc|free|strdup|printf|fprintf|puts|pthread_mutex_lock)[[:space:]]*\(' \
	"allocation, locking or stdio in a hook" $hooks
check '(^|[^_[:alnum:].>)])(connect|close|socket|send|recv|sendmsg|recvmsg|write|read|writev|readv|poll)[[:space:]]*\(' \
	"interposed libc name called directly (use AT_REAL)" $hooks src/export/at_transport.c src/core/at_log.c

# Test-only hooks (AT_TESTING, src/core/at_testing.h): no library code
# calls them; only their definitions name them.
lib_src=$(find src hooks -name '*.c' | sort)
for name in $(grep -hoE '^AT_TESTING [^(]*[ *]at_[a-z0-9_]+\(' src/*/*.h hooks/*/*.h |
	grep -oE 'at_[a-z0-9_]+\($' | tr -d '('); do
	hits=$(for f in $lib_src; do strip_comments "$f"; done |
		grep -E "(^|[^_[:alnum:]])$name[[:space:]]*\(" | grep -v 'AT_TESTING' || true)
	if [ -n "$hits" ]; then
		echo "check-style: test-only $name called by the library:" >&2
		echo "$hits" >&2
		fail=1
	fi
done

[ $fail -eq 0 ] && echo "check-style: OK"
exit $fail
