#!/usr/bin/env bash
# Install what building and testing libautotrace needs on Debian 12, only
# if it is missing.  Needs root for apt-get; otherwise prints the command.
#
#   scripts/install-deps.sh          build + test + benchmark + package dependencies
#   scripts/install-deps.sh --build  only what `make` (and make install) needs
#   scripts/install-deps.sh --demo   only what `make demo` needs
set -euo pipefail

# python3: make man, install and deb make the man pages (scripts/gen-doc).
build_pkgs=(gcc make libc6-dev protobuf-c-compiler libprotobuf-c-dev zlib1g-dev libpq-dev libcurl4-openssl-dev libssl-dev libgnutls28-dev python3)
# make demo: a throwaway PostgreSQL, a Python frontend and backend
# (psycopg2, Debian's python3), curl as the client.
demo_pkgs=(curl python3-psycopg2 postgresql postgresql-client redis-server python3-redis)
test_pkgs=(libcriterion-dev clang libclang-rt-14-dev curl python3 nodejs npm nginx-light postgresql postgresql-client python3-psycopg2 netcat-openbsd
	mariadb-server mariadb-client redis-server redis-tools python3-asyncpg python3-redis python3-pymysql python3-aiohttp python3-requests libevent-dev openssl ruby wget)
# make bench: the load generator of its scale scenario (its npm packages
# are installed by scripts/bench/node.sh); make bench-instr: valgrind.
bench_pkgs=(wrk valgrind)
# make check-docs (groff, from man-db's groff-base) and make check-package
# (dpkg-shlibdeps, man -w).
package_pkgs=(dpkg-dev man-db)

pkgs=("${build_pkgs[@]}")
case "${1:-}" in
--build) ;;
--demo) pkgs+=("${demo_pkgs[@]}") ;;
*) pkgs+=("${demo_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}" "${package_pkgs[@]}") ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm may come from elsewhere than Debian's packages: accept them.
filtered=()
for p in "${missing[@]}"; do
	case "$p" in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	python3) command -v python3 >/dev/null 2>&1 && continue ;;
	esac
	filtered+=("$p")
done
missing=("${filtered[@]}")

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "libautotrace: missing packages: ${missing[*]}" >&2
	echo "libautotrace: run as root: apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "libautotrace: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
