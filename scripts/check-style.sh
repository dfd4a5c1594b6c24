#!/usr/bin/env bash
# A small checksrc: calls that must not appear where they do not belong.
#  - hooks/ must not allocate, lock or use stdio (they run inside the host,
#    possibly in signal handlers or inside its allocator);
#  - every library source (src/*/*.c, hooks/*/*.c) must call the real
#    functions through AT_REAL() (or a family's table), never a name the
#    library interposes, or the library would trace (or recurse into)
#    itself.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0

strip_comments() {
	# Drop /* */ comment lines and block-comment bodies (good enough for
	# this code base's style: comments on their own lines or trailing).
	sed -e 's#/\*.*\*/##g' "$1" | awk -v f="$1" '
		/\/\*/ { inc = 1 }
		{ if (!inc) print f ":" NR ": " $0 }
		/\*\// { inc = 0 }'
}

# Declarations (a type, then the name) are not calls.
decl='^[^:]*:[0-9]+:[[:space:]]*(extern[[:space:]]+)?(ssize_t|int|pid_t|void|FILE|struct[[:space:]]+[_[:alnum:]]+)[[:space:]*]+[_[:alnum:]]+[[:space:]]*\('

check() {
	local pattern=$1 what=$2
	shift 2
	for f in "$@"; do
		[ -f "$f" ] || continue
		hits=$(strip_comments "$f" | grep -E "$pattern" | grep -v 'AT_EXPORT' |
			grep -vE "$decl" || true)
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
# Every library source: a name the library interposes (the export map's
# global list) is never called directly - through AT_REAL() (libc) or the
# family's table (at_pq.PQexec, at_curl.curl_easy_setopt) only.  Names
# that are not interposed (open, unlink, rename, poll...) are fine.
interposed=$(sed -n '/global:/,/local:/p' src/libautotrace.map |
	grep -oE '^[[:space:]]*[_[:alnum:]]+;' | tr -d ' \t;' | paste -sd'|')
lib=$(find src hooks -mindepth 2 -maxdepth 2 -name '*.c' ! -path 'src/proto/*' | sort)
check "(^|[^_[:alnum:].>)])($interposed)[[:space:]]*\(" \
	"interposed name called directly (use AT_REAL)" $lib

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
