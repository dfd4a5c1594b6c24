# Scenario nginx_wrk: a busy keep-alive client, traced alone.  Debian's
# nginx (/usr/sbin/nginx) serves a fixed 200 answer from a throwaway prefix
# (its conf, pid, logs and temp files in $tmp/nginx-wrk; one worker; a free
# loopback port), bare; `wrk -t1 -c1` (one connection, one request in
# flight) runs against it for BENCH_NGINX_SECONDS (1) s at a time, bare
# and under LD_PRELOAD exporting to a sink that answers at once, the two
# taking turns, BENCH_NGINX_PAIRS (80) pairs in ABBA order
# (scripts/bench/interleave.py, scripts/bench/wrk_chunks.sh), wrk on the
# clients' core and nginx on the servers' (lib.sh).  7 pairs of 4 s runs
# gave medians 0.956 and 0.862 in two whole runs; runs a second apart see
# the same machine.  The figure: each pair's requests/s traced / bare;
# the budget (>= 0.95) is judged on the median of the pairs' ratios.
# 40 pairs (pairs from 0.75 to 1.18 of bare) gave medians 0.963 and 0.938
# in two whole runs, the budget inside the median's 95 % interval: twice
# the pairs halve that interval's width.

# nginx_wrk_start: nginx on a free port of 127.0.0.1; sets nginx_pid and
# nginx_port (1 if it would not start).
nginx_wrk_start() {
	local dir=$tmp/nginx-wrk user="" try
	mkdir -p "$dir/tmp"
	[ "$(id -u)" -eq 0 ] && user="user root;"
	for try in $(seq 1 20); do
		nginx_port=$((20000 + RANDOM % 12000))
		# Someone listens there already: another port.
		(exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && continue
		cat >"$dir/nginx.conf" <<EOF
$user
worker_processes 1;
daemon off;
master_process on;
pid "$dir/nginx.pid";
error_log "$dir/error.log" warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path "$dir/tmp/client_body";
    proxy_temp_path "$dir/tmp/proxy";
    fastcgi_temp_path "$dir/tmp/fastcgi";
    uwsgi_temp_path "$dir/tmp/uwsgi";
    scgi_temp_path "$dir/tmp/scgi";
    server {
        listen 127.0.0.1:$nginx_port;
        keepalive_requests 10000000;
        location / { default_type text/plain; return 200 "ok\n"; }
    }
}
EOF
		env -u LD_PRELOAD /usr/sbin/nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
			>/dev/null 2>&1 &
		nginx_pid=$!
		# Until it accepts, or (port taken meanwhile) it ended: at most 20 s.
		for _ in $(seq 1 400); do
			(exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && return 0
			kill -0 "$nginx_pid" 2>/dev/null || break
			sleep 0.05
		done
		stop "$nginx_pid"
		say "nginx did not start on port $nginx_port (try $try): $(tail -1 "$dir/error.log" 2>/dev/null)"
	done
	return 1
}

bench_nginx_wrk() {
	local b t r spans secs=${BENCH_NGINX_SECONDS:-1} url
	local nginx_pairs=${BENCH_NGINX_PAIRS:-80}
	echo "== nginx_wrk: wrk -t1 -c1 -d${secs}s keep-alive against nginx (1 worker), only wrk traced, exporting to a sink ($nginx_pairs pairs of runs in turns, median of the ratios)"
	if [ ! -x /usr/sbin/nginx ] || ! command -v wrk >/dev/null; then
		say "nginx or wrk not found (scripts/install-deps.sh installs them): skipped"
		return
	fi
	if ! nginx_wrk_start; then
		say "nginx would not start: skipped"
		return
	fi
	pin_server "$nginx_pid"
	sink_start
	url=http://127.0.0.1:$nginx_port/
	# interleave.py's first pair (not kept) warms nginx and the page cache.
	interleave_pairs=$nginx_pairs interleave nginx_wrk "exec scripts/bench/wrk_chunks.sh '' -t1 -c1 -d${secs}s $url" \
		"exec scripts/bench/wrk_chunks.sh '$lib' -t1 -c1 -d${secs}s $url" ||
		say "the nginx_wrk loop failed: its figures are incomplete"
	spans=$(sink_stop)
	stop "$nginx_pid"
	pair_fig ratio "$tmp/nginx_wrk.traced" "$tmp/nginx_wrk.bare" >"$tmp/nginx_wrk.ratio"
	b=$(median "$tmp/nginx_wrk.bare")
	t=$(median "$tmp/nginx_wrk.traced")
	r=$(median "$tmp/nginx_wrk.ratio")
	say "%-40s %8.0f req/s bare [%s], %8.0f req/s traced [%s] (medians): ratio %s [%s over %d pairs]; %s spans at the sink" \
		"wrk -t1 -c1 against nginx" "$b" "$(spread "$tmp/nginx_wrk.bare")" "$t" \
		"$(spread "$tmp/nginx_wrk.traced")" "$r" "$(spread "$tmp/nginx_wrk.ratio")" \
		"$(wc -l <"$tmp/nginx_wrk.ratio")" "$spans"
	json_put "nginx wrk requests/s, bare" "$b" "requests/s"
	json_put "nginx wrk requests/s, traced" "$t" "requests/s"
	json_put "nginx wrk ratio" "$r" "traced/bare"
	row "\`wrk -t1 -c1\` keep-alive against nginx, only wrk traced" \
		"$r of bare requests/s [$(spread "$tmp/nginx_wrk.ratio")] ($b req/s bare)" "≥ 0.95"
	judge nginx_wrk "$tmp/nginx_wrk.ratio"
}
