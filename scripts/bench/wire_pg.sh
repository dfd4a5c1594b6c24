# Scenario: PostgreSQL decoded on the wire.  A node-postgres client on one
# keep-alive TCP connection runs statements one after the other (a simple
# query "SELECT 1", then a parameterised one, the extended protocol), bare
# vs traced (the library decodes the protocol on the socket: one span per
# statement), the two clients up at once taking turns in chunks
# (interleave.py), PostgreSQL on the servers' core.  Per statement: wall time and the client
# process's CPU time (process.cpuUsage), and what tracing adds to each;
# the budget (<= 2 us per statement) is judged on the client's CPU added,
# per pair (traced - bare).

wire_pg_n=${BENCH_WIRE_PG_N:-2000}
# The client: after a warm-up, per line of stdin K statements of each kind
# (tests/fixtures/wire/chunks.js: it prints "<simple wall us> <simple cpu
# us> <param wall us> <param cpu us>").
wire_pg_js='
const { Client } = require("pg");
(async () => {
	const c = new Client({ host: "127.0.0.1", port: +process.env.PGPORT,
		user: "postgres", database: "autotrace" });
	await c.connect();
	const simple = () => c.query("SELECT 1");
	const param = () => c.query("SELECT $1::int AS v", [7]);
	for (let i = 0; i < 500; i++) { await simple(); await param(); }
	await require(process.env.CHUNKS_JS)(+process.env.K, [simple, param]);
	await c.end();
})();
'
wire_pg_cmd() { # -> the command of a chunked client
	echo "PGPORT=$wire_pg_port K=$wire_pg_n CHUNKS_JS=$PWD/tests/fixtures/wire/chunks.js NODE_PATH=$wire_pg_node exec node -e '$wire_pg_js'"
}
bench_wire_pg() {
	local pgdir col what b t key
	echo "== PostgreSQL on the wire: node-postgres, one TCP connection, chunks of $wire_pg_n statements of each kind, bare vs traced, interleaved"
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
	pin_server "$(sed -n 1p "$pgdir/data/postmaster.pid")"
	sink_start
	interleave wire_pg_run "$(wire_pg_cmd)" "LD_PRELOAD=$lib $(wire_pg_cmd)" ||
		say "the node-postgres loop failed: its figures are incomplete"
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
