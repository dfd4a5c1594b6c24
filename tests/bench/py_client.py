#!/usr/bin/env python3
"""py_client - the client of make bench's Python pair (scenario 3): N GET
requests to 127.0.0.1:PORT, one after the other, with the standard library
only; prints the time the N requests took, "elapsed_ns=<n>", on stdout.

    python3 py_client.py [--urllib] N PORT

By default one http.client.HTTPConnection carries every request (HTTP/1.1
keep-alive; the server must speak HTTP/1.1, as http.server does with
protocol_version = "HTTP/1.1").  With --urllib each request is a
urllib.request.urlopen(), which opens a new connection every time (urllib
never keeps connections alive).  One request before the timed loop warms
up the connection and the imports.  Exits 1 if a response is not 200.
"""
import http.client
import sys
import time
import urllib.request


def main(argv):
    use_urllib = argv[1:2] == ["--urllib"]
    args = argv[2:] if use_urllib else argv[1:]
    if len(args) != 2:
        sys.stderr.write("usage: py_client.py [--urllib] N PORT\n")
        return 2
    n, port = int(args[0]), int(args[1])
    if use_urllib:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        url = "http://127.0.0.1:%d/" % port

        def one():
            with opener.open(url, timeout=10) as resp:
                resp.read()
                return resp.status
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def one():
            conn.request("GET", "/")
            resp = conn.getresponse()
            resp.read()
            return resp.status
    if one() != 200:
        return 1
    t0 = time.monotonic_ns()
    for _ in range(n):
        if one() != 200:
            return 1
    print("elapsed_ns=%d" % (time.monotonic_ns() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
