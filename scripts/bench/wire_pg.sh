# Scenario: PostgreSQL decoded on the wire.  A node-postgres client on one
# keep-alive TCP connection runs statements one after the other (a simple
# query "SELECT 1", then a parameterised one, the extended protocol), bare
# vs traced (the library decodes the protocol on the socket: one span per
# statement); alternating runs.  Per statement: wall time and the client
# process's CPU time (process.cpuUsage), and what tracing adds to each;
# the budget (<= 2 us per statement) is judged on the client's CPU added,
# per pair (traced - bare).

wire_pg_n=${BENCH_WIRE_PG_N:-10000}

# The client: N statements of each kind after a warm-up; prints
# "<simple wall us> <simple cpu us> <param wall us> <param cpu us>".
wire_pg_js='
const { Client } = require("pg");
// The median chunk of 2000 statements (several export batches): wall and
// CPU microseconds per statement.
async function loop(c, n, q, v) {
	const w = [], cpu = [], k = Math.min(n, 2000);
	for (let done = 0; done < n; done += k) {
		const t0 = process.hrtime.bigint(), u0 = process.cpuUsage();
		for (let i = 0; i < k; i++) await c.query(q, v);
		const u = process.cpuUsage(u0);
		w.push(Number(process.hrtime.bigint() - t0) / 1e3 / k);
		cpu.push((u.user + u.system) / k);
	}
	const med = (a) => a.sort((x, y) => x - y)[a.length >> 1];
	return [med(w), med(cpu)];
}
(async () => {
	const c = new Client({ host: "127.0.0.1", port: +process.env.PGPORT,
		user: "postgres", database: "autotrace" });
	await c.connect();
	const n = +process.env.N;
	await loop(c, 1000, "SELECT 1", undefined);
	const s = await loop(c, n, "SELECT 1", undefined);
	const p = await loop(c, n, "SELECT $1::int AS v", [7]);
	console.log(s.concat(p).map((x) => x.toFixed(3)).join(" "));
	await c.end();
})();
'

wire_pg_run() { # MODE -> four figures
	PGPORT=$wire_pg_port N=$wire_pg_n NODE_PATH=$wire_pg_node LD_PRELOAD=$(preload "$1") \
		node -e "$wire_pg_js"
}

bench_wire_pg() {
	local pgdir col what b t key reps=$pair_reps
	echo "== PostgreSQL on the wire: node-postgres, one TCP connection, $wire_pg_n statements of each kind, bare vs traced ($reps pairs, alternating)"
	if ! scripts/setup-wire-node.sh "$build" >/dev/null 2>&1; then
		say "node-postgres could not be installed: skipped"
		row "node-postgres statements (wire)" "(not run: npm)" "≤ 2 us per statement"
		return
	fi
	wire_pg_node=$(realpath "$build/wire-node/node_modules")
	pgdir=$(mktemp -u /tmp/at-pg-XXXXXX)
	if ! sh tests/fixtures/pg/pg-run.sh start "$pgdir" >/dev/null; then
		say "PostgreSQL could not start: skipped"
		row "node-postgres statements (wire)" "(not run: PostgreSQL did not start)" "≤ 2 us per statement"
		return
	fi
	wire_pg_port=$(cat "$pgdir/port")
	sink_start
	alternate wire_pg_run bare traced
	for col in 1 3; do
		what="SELECT 1 (simple query)"
		[ $col = 3 ] && what='SELECT $1 (extended protocol)'
		b=$(median "$tmp/wire_pg_run.bare" $col)
		t=$(median "$tmp/wire_pg_run.traced" $col)
		local bc tc
		bc=$(median "$tmp/wire_pg_run.bare" $((col + 1)))
		tc=$(median "$tmp/wire_pg_run.traced" $((col + 1)))
		key=wire_pg_simple
		[ $col = 3 ] && key=wire_pg_extended
		pair_fig diff "$tmp/wire_pg_run.traced" "$tmp/wire_pg_run.bare" $((col + 1)) >"$tmp/$key.added"
		say "%-32s %7.2f us bare, %7.2f us traced (%+.2f us); CPU %6.2f us bare, %6.2f us traced: %+.2f us [%s] per statement" \
			"$what" "$b" "$t" "$(calc 't - b' t="$t" b="$b")" "$bc" "$tc" "$(median "$tmp/$key.added")" "$(spread "$tmp/$key.added")"
		json_put "wire pg $what us added" "$(calc 't - b' t="$t" b="$b")" "us"
		json_put "wire pg $what cpu us added" "$(median "$tmp/$key.added")" "us"
		row "node-postgres \`$what\`, one connection (wire decoding): client CPU" \
			"$(median "$tmp/$key.added") us per statement [$(spread "$tmp/$key.added")] ($(delta "$t" "$b") us wall)" "≤ 2 us per statement"
		judge $key "$tmp/$key.added"
	done
	say "spans received by the sink: %s" "$(sink_stop)"
	sh tests/fixtures/pg/pg-run.sh stop "$pgdir" >/dev/null 2>&1 || true
}
