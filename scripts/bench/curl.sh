# Scenario 5, libcurl: curl_easy_perform keep-alive loop on one easy
# handle against http_service, bare vs traced (the client only): the two
# clients up at once, taking turns, chunks of BENCH_CURL_N transfers (2000
# unless told; interleave.py), each against its own bare http_service on
# the servers' core.  The client times its own chunks (--chunks: wall and
# CPU per transfer, the first transfer, which connects, left out).
curl_run() {
	interleave_http_service curl_run bare \
		"$build/fixtures/curl_easy_client --chunks $curl_n http://127.0.0.1:{port}/"
}

bench_curl() {
	local b t spans
	curl_n=${BENCH_CURL_N:-2000}
	echo "== 5. libcurl: curl_easy_perform keep-alive loop (chunks of $curl_n transfers, one handle), bare vs traced, interleaved"
	sink_start
	curl_run
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
	row "\`curl_easy_perform\` keep-alive loop (chunks of $curl_n transfers, one handle)" \
		"$(median "$tmp/curl.added") us per transfer [$(spread "$tmp/curl.added")] ($b us bare)" "≤ 3 us"
	judge curl "$tmp/curl.added"
}
