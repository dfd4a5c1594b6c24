# Scenario wire_redis, Redis on the wire: GETs one after another on one
# connection, through real drivers - Node's ioredis and Python's redis-py -
# against a throwaway redis-server (tests/fixtures/redis/redis-run.sh, on
# the servers' core), bare vs traced (the client only), the two clients up
# at once taking turns in chunks of 2000 GETs (redis-py 1000; interleave.py).
# Each client times its own chunks: wall time, and its process's CPU time
# per GET.  The figure: CPU microseconds the library adds to the client
# per command (target <= 2 us, judged per pair); the wall time, a round
# trip to another process, moves with the machine's load far more.
# BENCH_REDIS_PAIRS (300) pairs per driver, twice the other loops': one
# chunk's CPU per GET differs from the next by +-20 % (of 70-90 us),
# and ioredis's added 1.8-5.3 us sat by its budget in 150 pairs.

rd_ioredis_cmd() { # -> the command of a chunked ioredis client
	echo "NODE_PATH=$build/wire-node/node_modules exec node tests/fixtures/wire/rd_ioredis.js chunks $rd_port 2000"
}

rd_redispy_cmd() { # -> the command of a chunked redis-py client
	echo "exec /usr/bin/python3 scripts/bench/redispy_chunks.py $rd_port 1000"
}

bench_wire_redis() {
	local rd_dir b t bw tw spans driver label
	echo "== Redis on the wire: GET loop on one connection (chunks: ioredis 2000, redis-py 1000), bare vs traced, interleaved"
	rd_dir=$(mktemp -u /tmp/at-rd-bench-XXXXXX)
	if ! sh tests/fixtures/redis/redis-run.sh start "$rd_dir" >/dev/null ||
		! scripts/setup-wire-node.sh "$build" >/dev/null; then
		say "redis-server or the Node drivers are missing: skipped"
		row "Redis GET loop (ioredis, redis-py)" "(not run)" "≤ 2 us per command"
		sh tests/fixtures/redis/redis-run.sh stop "$rd_dir" >/dev/null 2>&1 || true
		return
	fi
	rd_port=$(cat "$rd_dir/port")
	pin_server "$(cat "$rd_dir/redis.pid")"
	sink_start
	for driver in ioredis redispy; do
		interleave_pairs=${BENCH_REDIS_PAIRS:-300} interleave rd_$driver "$(rd_${driver}_cmd)" "LD_PRELOAD=$lib $(rd_${driver}_cmd)" ||
			say "the $driver loop failed: its figures are incomplete"
		bw=$(median "$tmp/rd_$driver.bare" 1)
		tw=$(median "$tmp/rd_$driver.traced" 1)
		b=$(median "$tmp/rd_$driver.bare" 2)
		t=$(median "$tmp/rd_$driver.traced" 2)
		label=ioredis
		[ $driver = redispy ] && label=redis-py
		pair_fig diff "$tmp/rd_$driver.traced" "$tmp/rd_$driver.bare" 2 >"$tmp/rd_$driver.added"
		say "%-40s CPU %6.2f us bare, %6.2f us traced: %+.2f us [%s] per GET; elapsed %.1f / %.1f us" \
			"$label GET loop" "$b" "$t" "$(median "$tmp/rd_$driver.added")" "$(spread "$tmp/rd_$driver.added")" "$bw" "$tw"
		json_put "redis $label GET added" "$(median "$tmp/rd_$driver.added")" "us CPU/command"
		row "Redis: $label GET loop, one connection (client CPU)" \
			"$(median "$tmp/rd_$driver.added") us per command [$(spread "$tmp/rd_$driver.added")] ($b us bare)" "≤ 2 us"
		judge "wire_redis_$driver" "$tmp/rd_$driver.added"
	done
	spans=$(sink_stop)
	say "spans received by the sink: %s" "$spans"
	sh tests/fixtures/redis/redis-run.sh stop "$rd_dir" >/dev/null 2>&1 || true
}
