#!/usr/bin/env python3
"""ctx_parents.py - make bench, scenario ctx_node: how many client spans
sit under the request that caused them, from build/autotrace-receiver's
span lines on stdin (one line per span: trace=, span=, parent=, kind=,
attrs={...}).  The front service (tests/fixtures/ctx/node_front.js)
answers GET /<id> (node_drive.js: /r1, /r2...) and calls /call/<id> (http.request) and /fetch/<id>
(fetch) for it: a client span is right when its parent is the server
span of /<id>.  Reads both the stable HTTP semantic conventions (url.path,
url.full) and the older ones the OpenTelemetry JS SDK may still write
(http.target, http.url).  Prints one line per client kind:
  <kind> right=<n> wrong=<n> root=<n> spans=<n>
"""
import re
import sys

LINE = re.compile(r'span trace=(\w+) span=(\w+) parent=(\S+) kind=(\w+)')
ATTR = re.compile(r'(url\.path|http\.target|url\.full|http\.url)="([^"]*)"')

servers = {}   # path id -> span id
clients = []   # (kind, id, parent)
for line in sys.stdin:
    m = LINE.search(line)
    if not m:
        continue
    _, span, parent, kind = m.groups()
    attrs = dict(ATTR.findall(line))
    if kind == 'SERVER':
        path = attrs.get('url.path') or attrs.get('http.target') or ''
        if re.fullmatch(r'/[\w-]+', path):
            servers[path[1:]] = span
    elif kind == 'CLIENT':
        url = attrs.get('url.full') or attrs.get('http.url') or ''
        c = re.search(r'/(call|fetch)/([\w-]+)', url)
        if c:
            clients.append((c.group(1), c.group(2), parent))
for kind in ('call', 'fetch'):
    right = wrong = root = n = 0
    for k, rid, parent in clients:
        if k != kind:
            continue
        n += 1
        if parent == '-':
            root += 1
        elif servers.get(rid) == parent:
            right += 1
        else:
            wrong += 1
    name = 'http.request' if kind == 'call' else 'fetch'
    print(f'{name} right={right} wrong={wrong} root={root} spans={n}')
