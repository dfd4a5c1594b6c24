#!/usr/bin/env bash
# make-deb.sh - the Debian packages, from a staged install (make deb).
#
#   scripts/make-deb.sh WORK VERSION OUTDIR
#
# WORK/root holds `make install PREFIX=/usr DESTDIR=WORK/root` (without
# the bridge's __pycache__: the package's postinst compiles it, its prerm
# removes it).  Out of it come, in OUTDIR:
#   libautotrace_VERSION_ARCH.deb          the library, autotrace, bridges,
#                                          man pages (gzipped), doc files
#   libautotrace-dbgsym_VERSION_ARCH.ddeb  /usr/lib/debug/... (moved there
#                                          from WORK/root)
# made with dpkg-deb (root-owned files, no fakeroot), from the templates in
# packaging/deb/.  Depends is what dpkg-shlibdeps computes from the ELF
# files' needs (libc6 and zlib1g, with the versions the symbols used
# need); ARCH is dpkg --print-architecture; the version is the Makefile's
# (AT_VERSION).  Prints the two paths.
set -euo pipefail
work=$(cd "$1" && pwd) version=$2 out=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
tpl=$here/packaging/deb
root=$work/root
dbg=$work/dbgsym
arch=$(dpkg --print-architecture)
maintainer=${MAINTAINER:-$(git -C "$here" log -1 --format='%an <%ae>' 2>/dev/null ||
	echo 'libautotrace maintainers <root@localhost>')}
date=$(git -C "$here" log -1 --format=%aD 2>/dev/null || date -R)
doc=$root/usr/share/doc/libautotrace

fill() { # template -> stdout
	sed -e "s|@VERSION@|$version|g" -e "s|@ARCH@|$arch|g" \
		-e "s|@MAINTAINER@|$maintainer|g" -e "s|@DATE@|$date|g" \
		-e "s|@SIZE@|$2|g" -e "s|@DEPENDS@|${3:-}|g" "$1"
}
size_kib() { du -s -k --apparent-size --exclude=DEBIAN "$1" | cut -f1; }
md5sums() { (cd "$1" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' |
	LC_ALL=C sort | xargs -r md5sum) > "$1/DEBIAN/md5sums"; }

# The debug files go to their own package.
rm -rf "$dbg"
mkdir -p "$dbg/usr/lib" "$dbg/usr/share/doc"
mv "$root/usr/lib/debug" "$dbg/usr/lib/debug"
ln -s libautotrace "$dbg/usr/share/doc/libautotrace-dbgsym"

# Man pages and documentation as Debian ships them.
gzip -9n "$root"/usr/share/man/man*/*
mkdir -p "$doc"
cp "$tpl/copyright" "$doc/copyright"
fill "$tpl/changelog.in" 0 | gzip -9n > "$doc/changelog.gz"
gzip -9n < "$here/README.md" > "$doc/README.md.gz"

# Dependencies: dpkg-shlibdeps wants a debian/control beside it.
shl=$work/shlibdeps
mkdir -p "$shl/debian"
printf 'Source: libautotrace\n\nPackage: libautotrace\nArchitecture: any\n' \
	> "$shl/debian/control"
depends=$(cd "$shl" && dpkg-shlibdeps -O -e"$root/usr/lib/libautotrace.so" \
	-e"$root/usr/bin/autotrace" 2>"$work/shlibdeps.log" | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { cat "$work/shlibdeps.log" >&2; echo "make-deb.sh: no Depends" >&2; exit 1; }

for r in "$root" "$dbg"; do
	find "$r" -type d -exec chmod 0755 {} +
	find "$r" -type f -exec chmod 0644 {} +
	mkdir -p "$r/DEBIAN"
done
chmod 0755 "$root/usr/bin/autotrace"
fill "$tpl/control.in" "$(size_kib "$root")" "$depends" > "$root/DEBIAN/control"
fill "$tpl/dbgsym-control.in" "$(size_kib "$dbg")" > "$dbg/DEBIAN/control"
install -m 0755 "$tpl/postinst" "$tpl/prerm" "$root/DEBIAN/"
md5sums "$root"
md5sums "$dbg"

deb=$out/libautotrace_${version}_$arch.deb
ddeb=$out/libautotrace-dbgsym_${version}_$arch.ddeb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
dpkg-deb --root-owner-group -Zxz --build "$dbg" "$ddeb" >/dev/null
echo "$deb"
echo "$ddeb"
