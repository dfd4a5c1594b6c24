'use strict';
/*
 * service.js - a small Node.js HTTP service for make bench, scenario 6.  It
 * has no tracing code: the benchmark runs it bare, under the OpenTelemetry
 * JS SDK (node --require otel-sdk.js) and under libautotrace (LD_PRELOAD).
 *
 *   node service.js PORT_FILE [DOWNSTREAM_PORT]
 *
 * Listens on 127.0.0.1, an ephemeral port, written to PORT_FILE atomically
 * (PORT_FILE.tmp, then rename).  Every request gets 200 "backend ok
 * PATH\n" (PATH: the request's target); with DOWNSTREAM_PORT it first GETs
 * the same target from 127.0.0.1:DOWNSTREAM_PORT (a keep-alive agent, as
 * services usually have) and answers "frontend ok " + that body, or 502 if
 * the call failed.  So an answer ends with its request's target, which the
 * bench's load (tests/fixtures/ctx/ctx_load) checks.
 */
const http = require('http');
const fs = require('fs');

const [portFile, downstreamPort] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true });

function answer(res, status, body) {
  res.writeHead(status, {
    'Content-Type': 'text/plain',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function callDownstream(path, res) {
  const req = http.get(
    { host: '127.0.0.1', port: downstreamPort, path, agent },
    (down) => {
      let body = '';
      down.setEncoding('utf8');
      down.on('data', (chunk) => { body += chunk; });
      down.on('end', () => answer(res, 200, 'frontend ok ' + body));
    });
  req.on('error', () => answer(res, 502, 'downstream error\n'));
}

const server = http.createServer((req, res) => {
  req.resume();
  if (downstreamPort)
    callDownstream(req.url, res);
  else
    answer(res, 200, 'backend ok ' + req.url + '\n');
});

server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile + '.tmp', server.address().port + '\n');
  fs.renameSync(portFile + '.tmp', portFile);
});
