#!/bin/sh
# split-debug.sh - a stripped copy of a binary, its debug info kept apart.
#
#   scripts/split-debug.sh lib|exe IN OUT
#
# Writes OUT (IN stripped as Debian's dh_strip does: .comment and .note
# removed, --strip-unneeded for a shared library, everything for an
# executable) and OUT.debug (IN's debug sections only, compressed), and
# links OUT to it with .gnu_debuglink (the file's base name and CRC).
# Installed as DEBUGDIR/<OUT's installed directory>/<base name>.debug,
# gdb finds it there (/usr/lib/debug/usr/lib/libautotrace.so.debug for a
# library in /usr/lib); the build id, kept in OUT, names it too.
set -eu
kind=$1 in=$2 out=$3
case $kind in
lib) strip=--strip-unneeded ;;
exe) strip=--strip-all ;;
*) echo "split-debug.sh: lib or exe, not '$kind'" >&2; exit 2 ;;
esac
rm -f "$out" "$out.debug"
objcopy --only-keep-debug --compress-debug-sections=zlib "$in" "$out.debug"
chmod 0644 "$out.debug"
objcopy $strip --remove-section=.comment --remove-section=.note \
	--add-gnu-debuglink="$out.debug" "$in" "$out"
