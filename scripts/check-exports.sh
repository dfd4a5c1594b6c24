#!/usr/bin/env bash
# Verify that libautotrace.so exports exactly the symbols its version
# script declares global - no internal at_* or protobuf_c_* symbol leaks
# into the host's namespace, no interposed symbol is missing, none is
# versioned - and that it depends at run time on libc (and zlib) only.
set -euo pipefail
lib=${1:-build/libautotrace.so}
map=${2:-src/libautotrace.map}
fail=0

expected=$(sed -n '/global:/,/local:/p' "$map" | grep -Eo '^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*;' |
	tr -d ' \t;' | sort -u)
actual=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort -u)

extra=$(comm -13 <(echo "$expected") <(echo "$actual"))
missing=$(comm -23 <(echo "$expected") <(echo "$actual"))
if [ -n "$extra" ]; then
	echo "check-exports: unexpected exported symbols:" $extra >&2
	fail=1
fi
if [ -n "$missing" ]; then
	echo "check-exports: interposed symbols not exported:" $missing >&2
	fail=1
fi
if nm -D --defined-only "$lib" | awk '{print $3}' | grep -q '@'; then
	echo "check-exports: versioned exports (a named version node breaks interposition)" >&2
	fail=1
fi
if readelf -V "$lib" | grep -q 'Version definition section'; then
	echo "check-exports: the library defines symbol versions" >&2
	fail=1
fi
needed=$(readelf -d "$lib" | awk '/NEEDED/ {gsub(/[\[\]]/, "", $5); print $5}' | sort -u)
for n in $needed; do
	case "$n" in
	libc.so.6 | libz.so.1 | ld-linux-x86-64.so.2) ;;
	*)
		echo "check-exports: unexpected run-time dependency $n" >&2
		fail=1
		;;
	esac
done
if [ $fail -eq 0 ]; then
	echo "check-exports: OK ($(echo "$expected" | wc -l) symbols: $(echo $expected))"
fi
exit $fail
