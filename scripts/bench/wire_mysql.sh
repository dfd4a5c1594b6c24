# Scenario: MySQL/MariaDB decoded on the wire.  The mysql2 driver (Node.js)
# on one keep-alive TCP connection to a throwaway MariaDB runs statements
# back to back - text queries "SELECT 1", then executions of a prepared
# "SELECT ? AS v" (binary protocol) - bare and traced (one span per
# statement), the two clients up at once taking turns in chunks of
# BENCH_WIRE_MYSQL_N statements of each kind (2000 unless told;
# interleave.py), MariaDB on the servers' core.  The client program is the
# tests' own (tests/fixtures/wire/my_node.js chunks K); it reports, per
# statement, the wall time and its process's CPU time; the figure is what
# tracing adds to the CPU.

wire_mysql_n=${BENCH_WIRE_MYSQL_N:-2000}

wire_mysql_client() { # -> the command of a chunked client
	echo "MY_PORT=$wire_mysql_port NODE_PATH=$wire_mysql_modules exec node tests/fixtures/wire/my_node.js chunks $wire_mysql_n"
}

# wire_mysql_report COLUMN LABEL BUDGET: one statement kind's figures;
# BUDGET judged on the client CPU added per pair.
wire_mysql_report() {
	local f=$tmp/wire_mysql_client wall_b wall_t cpu_b cpu_t
	wall_b=$(median "$f.bare" "$1")
	wall_t=$(median "$f.traced" "$1")
	cpu_b=$(median "$f.bare" $(($1 + 1)))
	cpu_t=$(median "$f.traced" $(($1 + 1)))
	pair_fig diff "$f.traced" "$f.bare" $(($1 + 1)) >"$tmp/$3.added"
	say "%-34s wall %7.2f -> %7.2f us (%+.2f); CPU %6.2f -> %6.2f us: %+.2f [%s] per statement" \
		"$2" "$wall_b" "$wall_t" "$(calc 't - b' t="$wall_t" b="$wall_b")" \
		"$cpu_b" "$cpu_t" "$(median "$tmp/$3.added")" "$(spread "$tmp/$3.added")"
	json_put "wire mysql $2 us added" "$(calc 't - b' t="$wall_t" b="$wall_b")" "us"
	json_put "wire mysql $2 cpu us added" "$(median "$tmp/$3.added")" "us"
	row "mysql2 \`$2\`, one connection to MariaDB (wire decoding): client CPU" \
		"$(median "$tmp/$3.added") us per statement [$(spread "$tmp/$3.added")] ($(delta "$wall_t" "$wall_b") us wall)" \
		"≤ 2 us per statement"
	judge "$3" "$tmp/$3.added"
}

bench_wire_mysql() {
	local dir
	echo "== MySQL/MariaDB on the wire: mysql2, one TCP connection, chunks of $wire_mysql_n statements of each kind, bare vs traced, interleaved"
	if ! scripts/setup-wire-node.sh "$build" >/dev/null 2>&1; then
		say "mysql2 could not be installed: skipped"
		row "mysql2 statements (wire)" "(not run: npm)" "≤ 2 us per statement"
		return
	fi
	wire_mysql_modules=$(realpath "$build/wire-node/node_modules")
	dir=$(mktemp -u /tmp/at-my-XXXXXX)
	if ! sh tests/fixtures/mariadb/mariadb-run.sh start "$dir" >/dev/null; then
		say "MariaDB could not start: skipped"
		row "mysql2 statements (wire)" "(not run: MariaDB did not start)" "≤ 2 us per statement"
		return
	fi
	wire_mysql_port=$(cat "$dir/port")
	pin_server "$(cat "$dir/mariadbd.pid")"
	sink_start
	interleave wire_mysql_client "$(wire_mysql_client)" "LD_PRELOAD=$lib $(wire_mysql_client)" ||
		say "the mysql2 loop failed: its figures are incomplete"
	wire_mysql_report 1 "SELECT 1" wire_mysql_query
	wire_mysql_report 3 "SELECT ? (prepared)" wire_mysql_prepared
	say "spans received by the sink: %s" "$(sink_stop)"
	sh tests/fixtures/mariadb/mariadb-run.sh stop "$dir" >/dev/null 2>&1 || true
}
