"""redis-py's side of scripts/bench/interleave.py (make bench, wire_redis).

    redispy_chunks.py PORT K

On one connection to 127.0.0.1:PORT, after a warm-up: for every line read
on stdin, K GETs of bench:k one after another, then one line on stdout:
wall and CPU microseconds per GET (the process's CPU, all its threads,
since the end of the previous chunk).  Exits at the end of stdin.
"""
import sys
import time

import redis


def main():
    r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]))
    k = int(sys.argv[2])
    r.set("bench:k", "v")
    for _ in range(1000):
        r.get("bench:k")
    c_prev = time.process_time()
    for _ in sys.stdin:
        t0 = time.perf_counter()
        for _ in range(k):
            if r.get("bench:k") != b"v":
                sys.exit("GET bench:k: not the value set")
        t1, c1 = time.perf_counter(), time.process_time()
        print("%.3f %.3f" % ((t1 - t0) * 1e6 / k, (c1 - c_prev) * 1e6 / k), flush=True)
        c_prev = c1


if __name__ == "__main__":
    main()
