#!/usr/bin/python3
"""Demo frontend (no tracing code): calls the backend over HTTP.

  frontend.py PORT_FILE BACKEND_URL

GET /catalog   fetches the backend's /items
GET /checkout  calls the backend's /broken, which fails -> 502
GET /item/ID   the backend's /items/ID (cached in Redis when it has one)
"""
import http.server
import os
import signal
import sys
import urllib.error
import urllib.request


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, data):
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        target = {"/catalog": "/items", "/checkout": "/broken"}.get(self.path)
        if self.path.startswith("/item/") and self.path[6:].isdigit():
            target = "/items/" + self.path[6:]
        if not target:
            self.reply(404, b"not found\n")
            return
        try:
            with urllib.request.urlopen(self.server.backend + target, timeout=10) as r:
                self.reply(200, r.read() + b"\n")
        except urllib.error.HTTPError as e:
            self.reply(502, b"backend failed: %d\n" % e.code)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.backend = sys.argv[2]
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_port))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
