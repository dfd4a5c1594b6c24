# Scenario 5, libcurl: curl_easy_perform keep-alive loop (BENCH_CURL_N
# transfers, 5000 unless told, on one easy handle) against http_service,
# bare vs traced (the client only), BENCH_PAIR_REPS alternating pairs.
# The client times its own loop (--elapsed: wall and CPU from the end of the first
# transfer, which connects, to the end of the last), so the figure leaves
# out the process's start and exit, which the whole run's time would
# spread over the transfers.

curl_run() { # MODE -> microseconds per transfer (after the first): wall, CPU
	local out
	out=$(LD_PRELOAD=$(preload "$1") "$build/fixtures/curl_easy_client" --elapsed \
		$(for _ in $(seq 1 "$curl_n"); do echo "$curl_url"; done) 2>&1 >/dev/null |
		grep '^elapsed_ns=' || true)
	echo "$(calc 'ns / (n - 1) / 1000' ns="$(echo "$out" | sed -n 's/^elapsed_ns=\([0-9]*\).*/\1/p')" n="$curl_n")" \
		"$(calc 'ns / (n - 1) / 1000' ns="$(echo "$out" | sed -n 's/.*cpu_ns=\([0-9]*\).*/\1/p')" n="$curl_n")"
}

bench_curl() {
	local b t spans reps=$pair_reps
	curl_n=${BENCH_CURL_N:-5000}
	echo "== 5. libcurl: curl_easy_perform keep-alive loop ($curl_n transfers, one handle), bare vs traced ($reps pairs)"
	sink_start
	start_server "$tmp/curl.port" "" "$build/fixtures/http_service" "$tmp/curl.port" --sequential
	curl_url="http://127.0.0.1:$server_port/"
	alternate curl_run bare traced
	stop "$server_pid"
	spans=$(sink_stop)
	b=$(median "$tmp/curl_run.bare")
	t=$(median "$tmp/curl_run.traced")
	pair_fig diff "$tmp/curl_run.traced" "$tmp/curl_run.bare" >"$tmp/curl.added"
	pair_fig diff "$tmp/curl_run.traced" "$tmp/curl_run.bare" 2 >"$tmp/curl.cpu"
	say "%-40s %8.2f us bare, %8.2f us traced: %+.2f us per transfer [%s over %d pairs] (ratio %.3f); %s spans at the sink" \
		"curl_easy_perform" "$b" "$t" "$(median "$tmp/curl.added")" "$(spread "$tmp/curl.added")" \
		"$(wc -l <"$tmp/curl.added")" "$(calc 't / b' t="$t" b="$b")" "$spans"
	say "%-40s %8.2f us bare: %+.2f us per transfer [%s] (the client's threads, exporter included)" \
		"curl_easy_perform, CPU" "$(median "$tmp/curl_run.bare" 2)" "$(median "$tmp/curl.cpu")" "$(spread "$tmp/curl.cpu")"
	json_put "curl_easy_perform added" "$(median "$tmp/curl.added")" "us/transfer"
	json_put "curl_easy_perform added CPU" "$(median "$tmp/curl.cpu")" "us/transfer"
	row "\`curl_easy_perform\` keep-alive loop ($curl_n transfers, one handle)" \
		"$(median "$tmp/curl.added") us per transfer [$(spread "$tmp/curl.added")] ($b us bare)" "≤ 3 us"
	judge curl "$tmp/curl.added"
}
