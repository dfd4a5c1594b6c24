# Scenario wire_redis, Redis on the wire: a keep-alive loop of GETs, one
# after another on one connection, through real drivers - Node's ioredis
# (10000 GETs) and Python's redis-py (5000 GETs) - against a throwaway
# redis-server (tests/fixtures/redis/redis-run.sh), bare vs traced (the
# client only); each program times its own loop, after a warm-up: the
# elapsed time and the CPU time of the client process per GET.  The
# figure: CPU microseconds the library adds to the client per command
# (target <= 2 us, judged per pair); the elapsed time, a round trip to another process,
# moves with the machine's load far more than that.

rd_ioredis() { # MODE -> microseconds per GET: elapsed, CPU
	NODE_PATH=$build/wire-node/node_modules LD_PRELOAD=$(preload "$1") \
		node tests/fixtures/wire/rd_ioredis.js loop "$rd_port" 10000
}

rd_redispy() { # MODE -> microseconds per GET: elapsed, CPU
	LD_PRELOAD=$(preload "$1") /usr/bin/python3 - "$rd_port" 5000 <<'PY'
import sys, time
import redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
n = int(sys.argv[2])
r.set("bench:k", "v")
for _ in range(1000):
    r.get("bench:k")
# the median chunk of 1000 GETs (a couple of export batches)
k, w, c = min(n, 1000), [], []
for _ in range(0, n, k):
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(k):
        if r.get("bench:k") != b"v":
            sys.exit("GET bench:k: not the value set")
    t1, c1 = time.perf_counter(), time.process_time()
    w.append((t1 - t0) * 1e6 / k)
    c.append((c1 - c0) * 1e6 / k)
print("%.3f %.3f" % (sorted(w)[len(w) // 2], sorted(c)[len(c) // 2]))
PY
}

bench_wire_redis() {
	local rd_dir b t bw tw spans driver label reps=$pair_reps
	echo "== Redis on the wire: GET loop on one connection (ioredis 10000, redis-py 5000), bare vs traced ($reps pairs)"
	rd_dir=$(mktemp -u /tmp/at-rd-bench-XXXXXX)
	if ! sh tests/fixtures/redis/redis-run.sh start "$rd_dir" >/dev/null ||
		! scripts/setup-wire-node.sh "$build" >/dev/null; then
		say "redis-server or the Node drivers are missing: skipped"
		row "Redis GET loop (ioredis, redis-py)" "(not run)" "≤ 2 us per command"
		sh tests/fixtures/redis/redis-run.sh stop "$rd_dir" >/dev/null 2>&1 || true
		return
	fi
	rd_port=$(cat "$rd_dir/port")
	sink_start
	for driver in ioredis redispy; do
		alternate rd_$driver bare traced
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
