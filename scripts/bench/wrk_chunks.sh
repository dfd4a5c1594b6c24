#!/usr/bin/env bash
# One side of an interleaved wrk scenario (scripts/bench/interleave.py's
# child protocol): for every line on standard input, one run of
#   wrk WRK-ARGS...
# under LD_PRELOAD=PRELOAD (empty: bare), and one line out: the run's
# requests/s and mean latency in ms.  Each run is a new wrk process, so a
# traced run pays its own start and its exit flush; the flush is over
# before the line is printed, hence before the other side's next chunk.
# A run that prints no "Requests/sec" answers "failed" (interleave.py then
# stops with a clear line).
#
#   wrk_chunks.sh PRELOAD WRK-ARGS...
pre=$1
shift
while read -r _; do
	LD_PRELOAD=$pre wrk "$@" 2>/dev/null | awk '
		/^Requests\/sec:/ { rps = $2 }
		$1 == "Latency" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
			lat = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
		END { if (rps == "") print "failed"; else printf "%s %.3f\n", rps, lat }'
done
