#!/usr/bin/python3
"""Demo backend (no tracing code): an HTTP service over PostgreSQL.

  backend.py PORT_FILE DSN [REDIS_PORT]

GET /items      the catalogue: one query for the ids, then one query per item
                (the N+1 pattern autotrace points out)
GET /items/ID   one item, through a Redis cache when REDIS_PORT is given
                (GET item:ID; on a miss the query, then SET)
GET /broken     a query on a table that does not exist -> 500
"""
import http.server
import json
import os
import signal
import sys

import psycopg2


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        conn = psycopg2.connect(self.server.dsn)
        try:
            cur = conn.cursor()
            if self.path == "/items":
                cur.execute("SELECT id FROM items ORDER BY id")
                items = []
                for (item_id,) in cur.fetchall():
                    cur.execute("SELECT name FROM items WHERE id = %s", (item_id,))
                    items.append({"id": item_id, "name": cur.fetchone()[0]})
                self.reply(200, items)
            elif self.path.startswith("/items/") and self.path[7:].isdigit():
                self.reply(200, self.item(cur, int(self.path[7:])))
            elif self.path == "/broken":
                try:
                    cur.execute("SELECT total FROM orders WHERE id = 1")
                    self.reply(200, {})
                except psycopg2.Error as e:
                    self.reply(500, {"error": e.pgcode})
            else:
                self.reply(404, {})
        finally:
            conn.close()


    def item(self, cur, item_id):
        cache = self.server.cache
        key = "item:%d" % item_id
        if cache is not None:
            name = cache.get(key)
            if name is not None:
                return {"id": item_id, "name": name.decode(), "cached": True}
        cur.execute("SELECT name FROM items WHERE id = %s", (item_id,))
        row = cur.fetchone()
        name = row[0] if row else ""
        if cache is not None:
            cache.set(key, name)
        return {"id": item_id, "name": name, "cached": False}


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.dsn = sys.argv[2]
    server.cache = None
    if len(sys.argv) > 3 and sys.argv[3]:
        import redis
        server.cache = redis.Redis(host="127.0.0.1", port=int(sys.argv[3]))
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(server.server_port))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
