"""Python HTTPS client's side of scripts/bench/interleave.py (make bench,
https).

    https_chunks.py PORT CA_FILE K

One http.client.HTTPSConnection to localhost:PORT (certificate checked
against CA_FILE), kept alive; after a warm-up request, for every line
read on stdin K requests GET /r one after the other, then one line on
stdout: wall and CPU microseconds per request (the process's CPU, all its
threads, since the end of the previous chunk).  Exits at the end of stdin.
"""
import http.client
import ssl
import sys
import time


def main():
    port, ca, k = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    c = http.client.HTTPSConnection("localhost", port,
                                    context=ssl.create_default_context(cafile=ca))
    c.request("GET", "/warm")
    c.getresponse().read()
    c_prev = time.process_time()
    for _ in sys.stdin:
        t0 = time.perf_counter()
        for _ in range(k):
            c.request("GET", "/r")
            r = c.getresponse()
            r.read()
            if r.status != 200:
                sys.exit("GET /r: status %d" % r.status)
        t1, c1 = time.perf_counter(), time.process_time()
        print("%.3f %.3f" % ((t1 - t0) * 1e6 / k, (c1 - c_prev) * 1e6 / k), flush=True)
        c_prev = c1


if __name__ == "__main__":
    main()
