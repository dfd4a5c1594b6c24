# Scenario 5, libcurl: curl_easy_perform keep-alive loop (2000 transfers on
# one easy handle) against http_service, bare vs traced (the client only).

curl_run() { # MODE -> microseconds per transfer (whole run / 2000)
	local t0 t1
	t0=$(date +%s%N)
	LD_PRELOAD=$(preload "$1") "$build/fixtures/curl_easy_client" \
		$(for _ in $(seq 1 2000); do echo "$curl_url"; done) >/dev/null
	t1=$(date +%s%N)
	calc '(t1 - t0) / 2000 / 1000' t1="$t1" t0="$t0"
}

bench_curl() {
	local b t spans
	echo "== 5. libcurl: curl_easy_perform keep-alive loop (2000 transfers, one handle), bare vs traced"
	sink_start
	start_server "$tmp/curl.port" "" "$build/fixtures/http_service" "$tmp/curl.port" --sequential
	curl_url="http://127.0.0.1:$server_port/"
	alternate curl_run bare traced
	stop "$server_pid"
	spans=$(sink_stop)
	b=$(median "$tmp/curl_run.bare")
	t=$(median "$tmp/curl_run.traced")
	pair_fig diff "$tmp/curl_run.traced" "$tmp/curl_run.bare" >"$tmp/curl.added"
	say "%-40s %8.2f us bare, %8.2f us traced: %+.2f us per transfer [%s over %d pairs] (ratio %.3f); %s spans at the sink" \
		"curl_easy_perform" "$b" "$t" "$(median "$tmp/curl.added")" "$(spread "$tmp/curl.added")" \
		"$(wc -l <"$tmp/curl.added")" "$(calc 't / b' t="$t" b="$b")" "$spans"
	json_put "curl_easy_perform added" "$(median "$tmp/curl.added")" "us/transfer"
	row "\`curl_easy_perform\` keep-alive loop (2000 transfers, one handle)" \
		"$(median "$tmp/curl.added") us per transfer [$(spread "$tmp/curl.added")] ($b us bare)" "≤ 3 us"
	judge curl "$tmp/curl.added"
}
